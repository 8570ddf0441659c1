"""One-line descriptions of invalid settings: the setting's dotted name, where it was set, what is allowed.

``get_settings`` raises them as ``InvalidSettingsError`` so every command and server prints one line instead of
pydantic's report. Values are never echoed: a setting may be a secret or a URL with a password in it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import NoDecode, SettingsError

from hibachi.settings import Settings, config_file_path


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """One line for pydantic's report: each invalid setting by its dotted name, where it was set, what is allowed.

    Values are left out: a setting may be a secret or a URL with a password in it.
    """
    problems = [_describe_error(error) for error in exc.errors()[:limit]]
    more = f" (+{exc.error_count() - limit} more)" if exc.error_count() > limit else ""
    return "invalid settings: " + "; ".join(problems) + more


def _describe_error(error: Any) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "no such setting"
    loc = (_field_name(error["loc"][0]), *error["loc"][1:]) if error["loc"] else ()
    if not loc:  # a check across settings (production's refusals): its message names the settings
        return message
    name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    source = _source_of(loc)
    return f"{name} ({source}): {message}" if source else f"{name}: {message}"


def _field_name(loc_head: Any) -> Any:
    """pydantic reports a field read through an alias (DATABASE_URL) under its first alias; map it back."""
    for name, field in Settings.model_fields.items():
        if loc_head == name or loc_head in _env_names(name, field):
            return name
    return loc_head


def _env_names(name: str, field: FieldInfo) -> list[str]:
    """The variables that set a top-level setting, most preferred first (as pydantic-settings reads them)."""
    if isinstance(field.validation_alias, AliasChoices):
        return [str(choice) for choice in field.validation_alias.choices]
    return [f"{Settings.model_config['env_prefix']}{name}"]


def _source_of(loc: tuple[Any, ...]) -> str | None:
    """The environment variable that gave a setting (the longest one that is set: a section can also be set as
    JSON), else the config file when it holds the setting. The environment wins over the file, as when read."""
    keys = [str(part) for part in loc[: next((i for i, p in enumerate(loc) if isinstance(p, int)), len(loc))]]
    field = Settings.model_fields.get(keys[0]) if keys else None
    if field is not None:
        environ = {name.lower(): name for name in os.environ}  # pydantic-settings matches names in any case
        for depth in range(len(keys), 0, -1):
            for top in _env_names(keys[0], field):
                candidate = "__".join([top, *keys[1:depth]]).lower()
                if candidate in environ:
                    return f"environment variable {environ[candidate]}"
    config_file = config_file_path()
    if config_file.is_file() and _yaml_holds(config_file, loc):
        return f"config file {config_file}"
    return None


def _yaml_holds(path: Path, loc: tuple[Any, ...]) -> bool:
    try:
        node: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return False
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def describe_undecodable_environment(exc: SettingsError) -> str:
    """pydantic-settings reads a list or a section from the environment as JSON only, and its error names just
    the top-level field; this names the variables that are not JSON where JSON is needed."""
    culprits = [name for name, value in os.environ.items() if _needs_json(name) and not _is_json(value)]
    if not culprits:
        return f"invalid settings: {exc}"
    return (f"invalid settings: {', '.join(sorted(culprits))}: a list or a section in the environment is written "
            "as JSON, e.g. '[\"a\", \"b\"]' or '{\"key\": 1}'")


def _needs_json(env_name: str) -> bool:
    """Whether the setting an environment variable names is a list or a section that pydantic-settings decodes."""
    prefix = Settings.model_config["env_prefix"].lower()
    if not env_name.lower().startswith(prefix):
        return False
    model: Any = Settings
    field: FieldInfo | None = None
    for key in env_name.lower().removeprefix(prefix).split(Settings.model_config["env_nested_delimiter"]):
        fields = model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else {}
        field = fields.get(key)
        if field is None:
            return False
        model = _unwrap_optional(field.annotation)
    if field is None or NoDecode in field.metadata:
        return False
    return get_origin(model) in (list, dict, set, tuple) or (isinstance(model, type) and issubclass(model, BaseModel))


def _unwrap_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``: an optional section is still a section."""
    if get_origin(annotation) in (Union, UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return False
    return True
