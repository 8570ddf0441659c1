"""`hibachi serve`: the KServe predictor with OpenAI-compatible chat on one port."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hibachi.errors import UserError


def _adapter_names(adapters: list[Path], names: list[str]) -> dict[str, Path]:
    if names and len(names) != len(adapters):
        raise UserError(f"--adapter-name given {len(names)} time(s) for {len(adapters)} --adapter")
    chosen = names or [path.resolve().name for path in adapters]
    if len(set(chosen)) != len(chosen):
        raise UserError(f"adapter names must be unique, got {chosen}; name them with --adapter-name")
    for path in adapters:
        _check_adapter_config(path / "adapter_config.json")
    return dict(zip(chosen, adapters, strict=True))


def _check_adapter_config(config: Path) -> None:
    """Read the adapter's config before the base model loads, so a broken one is an error naming the file
    (peft would fail only after the weights are in memory, with a JSON traceback)."""
    if not config.is_file():
        raise UserError(f"--adapter {config.parent}: no adapter_config.json there (not a PEFT adapter directory)")
    try:
        text = config.read_bytes()
    except OSError as exc:
        raise UserError(f"--adapter {config.parent}: {config} cannot be read ({exc.strerror})") from None
    try:
        parsed = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes that are no text
        raise UserError(f"--adapter {config.parent}: {config} is not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise UserError(f"--adapter {config.parent}: {config} must hold a JSON object, not {type(parsed).__name__}")


def command(
    base_model: Annotated[Path | None, typer.Option(help="Llama checkpoint dir (default: serving.base_model).")]
    = None,
    adapter: Annotated[list[Path] | None, typer.Option(help="LoRA adapter dir; repeat to serve several.")] = None,
    adapter_name: Annotated[list[str] | None, typer.Option(help="Version id per --adapter (default: dir name).")]
    = None,
    # Checked when parsed: an out-of-range port otherwise failed only once the model had loaded.
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="HTTP port (default: settings.serving.port).")]
    = None,
    merge: Annotated[bool, typer.Option(help="Merge a single adapter into the weights for speed.")] = True,
    name: Annotated[str | None, typer.Option(help="KServe model name (default: settings.serving.model_name).")]
    = None,
) -> None:
    """Serve a base Llama plus LoRA adapters: KServe v1/v2 predict and OpenAI chat at /openai/v1."""
    from hibachi.settings import get_settings
    from hibachi.torch_threads import cpu_threads
    from serving.server import build_predictor, serve

    settings = get_settings().serving
    base_model = base_model or settings.base_model
    if not (base_model / "config.json").is_file():
        raise UserError(f"--base-model {base_model}: no config.json there (not a Hugging Face checkpoint; "
                        "on the embedded default `hibachi base-model` builds the stand-in)")
    adapters = _adapter_names(list(adapter or []), list(adapter_name or []))
    with cpu_threads(settings.cpu_threads):
        predictor = build_predictor(name or settings.model_name, base_model, adapters, merge=merge,
                                    max_tokens_limit=settings.max_tokens_limit, max_batch=settings.max_batch)
        # KServe's ModelServer binds every interface; there is no host to choose, so none is offered.
        typer.echo(f"serving {predictor.name} ({', '.join(adapters) or 'base only'}) on port "
                   f"{port or settings.port}", err=True)
        serve(predictor, port or settings.port, settings.default_max_tokens)
