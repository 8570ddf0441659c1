"""Chat generation over a base Llama plus LoRA adapters (transformers + peft), shared by every front end.

One adapter is merged into the base weights (``merge_and_unload``) so it costs nothing per token;
several stay a ``PeftModel`` with named adapters, switched per request. A lock guards the model:
switching adapters and generating are one critical section, so concurrent requests never see each
other's adapter or KV cache. ``generate_batch`` runs several greedy requests for the same adapter in
one left-padded ``generate`` call; ``generate`` goes through a micro-batcher, so requests arriving
while the model is busy are answered together in the next batch instead of one after another.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

BASE_NAME = "base"


class RequestTooLarge(ValueError):
    """The prompt plus the requested completion does not fit the model's context."""


class UnknownAdapter(ValueError):
    """The request named an adapter this engine does not serve."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn) or "length" (max_new_tokens reached)
    model: str  # the adapter version id that served, or "base"


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict]
    max_new_tokens: int = 128
    temperature: float = 0.0
    adapter: str | None = None
    # Generate exactly max_new_tokens, never stopping at end of turn (vLLM's ``ignore_eos``; for benchmarks).
    ignore_eos: bool = False
    # The tokenised prompt when the caller already has it (the HTTP route counts tokens first): no second template.
    prompt_ids: tuple[int, ...] | None = None


def pick_device() -> tuple[str, object]:
    import torch

    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return "cuda", dtype
    return "cpu", torch.float32


class MicroBatcher:
    """One worker thread answers queued requests in batches of up to ``max_batch`` (whatever is waiting)."""

    def __init__(self, engine: ChatEngine, max_batch: int = 8) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[ChatRequest, Future]] = queue.SimpleQueue()
        self.batch_sizes: list[int] = []  # observability: how much batching actually happened
        self._worker = threading.Thread(target=self._loop, daemon=True, name="hibachi-batcher")
        self._worker.start()

    def submit(self, request: ChatRequest) -> Future:
        future: Future = Future()
        self._queue.put((request, future))
        return future

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self.batch_sizes.append(len(batch))
            try:
                results = self.engine.generate_batch([request for request, _ in batch])
            except Exception as exc:  # noqa: BLE001 - each caller gets the error in its own thread
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)


class ChatEngine:
    def __init__(self, model, tokenizer, adapter_names: list[str], merged: bool, device: str,
                 max_batch: int = 8) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.adapter_names = adapter_names
        self.merged = merged
        self.device = device
        self.context_length = int(getattr(model.config, "max_position_embeddings", 2048))
        self._lock = threading.Lock()
        self.max_batch = max_batch
        self._batcher: MicroBatcher | None = None
        self._batcher_lock = threading.Lock()

    @classmethod
    def load(cls, base_model: Path | str, adapters: dict[str, Path | str] | None = None, merge: bool = True,
             device: str | None = None, max_batch: int = 8) -> ChatEngine:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        chosen_device, dtype = pick_device()
        device = device or chosen_device
        if device == "cpu":
            import torch

            dtype = torch.float32
        tokenizer = AutoTokenizer.from_pretrained(str(base_model))
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=dtype)
        adapters = dict(adapters or {})
        for name, path in adapters.items():
            if name == BASE_NAME:
                raise ValueError(f"adapter name {BASE_NAME!r} is reserved for the base model")
            if not (Path(path) / "adapter_config.json").is_file():
                raise FileNotFoundError(f"adapter {name!r}: {path} has no adapter_config.json")
        merged = False
        if adapters:
            from peft import PeftModel

            names = list(adapters)
            model = PeftModel.from_pretrained(model, str(adapters[names[0]]), adapter_name=names[0])
            for name in names[1:]:
                model.load_adapter(str(adapters[name]), adapter_name=name)
            if merge and len(names) == 1:
                model = model.merge_and_unload()
                merged = True
        model.to(device)
        model.eval()
        return cls(model, tokenizer, list(adapters), merged, device, max_batch)

    @property
    def served_models(self) -> list[str]:
        """Names a request may ask for: each adapter, and the base when adapters are not merged in."""
        return self.adapter_names if self.merged else [*self.adapter_names, BASE_NAME]

    @property
    def default_model(self) -> str:
        return self.adapter_names[0] if self.adapter_names else BASE_NAME

    def resolve(self, adapter: str | None) -> str:
        name = adapter or self.default_model
        if name not in self.served_models:
            raise UnknownAdapter(f"model {name!r} is not served here; served: {self.served_models}")
        return name

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        return list(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                       return_dict=True)["input_ids"])

    def fit_messages(self, messages: list[dict], max_new_tokens: int) -> list[dict]:
        """The conversation with its oldest turns dropped until it fits the context (system and last turn kept).

        For batch jobs (evaluation) that must answer every prompt; a live request that does not fit is refused.
        """
        system = [m for m in messages if m.get("role") == "system"][:1]
        turns = [m for m in messages if m.get("role") != "system"]
        while len(turns) > 1 and len(self.prompt_ids(system + turns)) + max_new_tokens > self.context_length:
            turns = turns[1:]
            while len(turns) > 1 and turns[0].get("role") != "user":  # a conversation starts with the customer
                turns = turns[1:]
        return system + turns

    def check_fits(self, prompt_tokens: int, max_new_tokens: int) -> None:
        if prompt_tokens + max_new_tokens > self.context_length:
            raise RequestTooLarge(
                f"prompt ({prompt_tokens} tokens) plus max_tokens ({max_new_tokens}) exceeds the context "
                f"length of {self.context_length} tokens")

    def _select(self, name: str):
        """Activate the adapter for ``name``; returns a context manager (the base disables adapters)."""
        from contextlib import nullcontext

        if self.merged or not self.adapter_names:
            return nullcontext()
        if name == BASE_NAME:
            return self.model.disable_adapter()
        self.model.set_adapter(name)
        return nullcontext()

    def _generate_kwargs(self, max_new_tokens: int, temperature: float, ignore_eos: bool = False) -> dict:
        kwargs = {"max_new_tokens": max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id,
                  "eos_token_id": self.tokenizer.eos_token_id}
        if ignore_eos:
            kwargs["min_new_tokens"] = max_new_tokens
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _finish(self, new_ids: list[int], max_new_tokens: int, prompt_tokens: int, name: str) -> Completion:
        eos = self.tokenizer.eos_token_id
        stopped = eos in new_ids
        if stopped:
            new_ids = new_ids[: new_ids.index(eos) + 1]
        pad = self.tokenizer.pad_token_id
        text_ids = [t for t in new_ids if t not in (eos, pad)]
        text = self.tokenizer.decode(text_ids, skip_special_tokens=True).strip()
        finish = "stop" if stopped or len(new_ids) < max_new_tokens else "length"
        return Completion(text, prompt_tokens, len(new_ids), finish, name)

    def generate(self, messages: list[dict], max_new_tokens: int = 128, temperature: float = 0.0,
                 adapter: str | None = None, ignore_eos: bool = False,
                 prompt_ids: list[int] | None = None) -> Completion:
        """One chat completion; concurrent callers are batched together (see ``MicroBatcher``).

        ``prompt_ids``, when the caller already tokenised ``messages`` with ``prompt_ids()``, saves a second pass.
        """
        ids = tuple(prompt_ids if prompt_ids is not None else self.prompt_ids(messages))
        request = ChatRequest(messages, max_new_tokens, temperature, adapter, ignore_eos, ids)
        self.check_fits(len(ids), max_new_tokens)  # bad input fails here, not in a batch
        self.resolve(adapter)
        if self.max_batch <= 1:
            return self.generate_batch([request])[0]
        with self._batcher_lock:
            if self._batcher is None:
                self._batcher = MicroBatcher(self, self.max_batch)
        return self._batcher.submit(request).result()

    def generate_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        """Answer several requests; greedy ones for the same adapter share one padded forward pass."""
        import torch

        prepared = []
        for request in requests:
            name = self.resolve(request.adapter)
            ids = list(request.prompt_ids) if request.prompt_ids is not None else self.prompt_ids(request.messages)
            self.check_fits(len(ids), request.max_new_tokens)
            prepared.append((name, ids, request))
        results: list[Completion | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for index, (name, _ids, request) in enumerate(prepared):
            # Sampling requests run alone so each keeps its own random stream; ignore_eos applies to a whole batch.
            key = (name, index) if request.temperature > 0 else (name, "greedy", request.ignore_eos)
            groups.setdefault(key, []).append(index)
        for (name, *_), indices in groups.items():
            batch = [prepared[i][1] for i in indices]
            limit = max(prepared[i][2].max_new_tokens for i in indices)
            first = prepared[indices[0]][2]
            encoded = self.tokenizer.pad({"input_ids": batch}, return_tensors="pt").to(self.device)
            with self._lock, self._select(name), torch.inference_mode():
                output = self.model.generate(**encoded, **self._generate_kwargs(limit, first.temperature,
                                                                                first.ignore_eos))
            width = encoded["input_ids"].shape[1]
            for row, index in enumerate(indices):
                own_limit = prepared[index][2].max_new_tokens
                new_ids = output[row, width:].tolist()[:own_limit]
                results[index] = self._finish(new_ids, own_limit, len(prepared[index][1]), name)
        return results  # type: ignore[return-value]

    def stream(self, messages: list[dict], max_new_tokens: int = 128, temperature: float = 0.0,
               adapter: str | None = None, stats: dict | None = None, ignore_eos: bool = False,
               prompt_ids: list[int] | None = None) -> Iterator[str]:
        """Yield text deltas as they are generated; the generation holds the model lock until it ends.

        ``stats``, when given, receives ``completion_tokens`` and ``finish_reason`` once the stream ends.
        """
        import torch
        from transformers import TextIteratorStreamer

        name = self.resolve(adapter)
        ids = list(prompt_ids) if prompt_ids is not None else self.prompt_ids(messages)
        self.check_fits(len(ids), max_new_tokens)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300)
        inputs = torch.tensor([ids], device=self.device)
        failure: list[BaseException] = []
        finished: list[Completion] = []

        def run() -> None:
            try:
                with self._lock, self._select(name), torch.inference_mode():
                    kwargs = self._generate_kwargs(max_new_tokens, temperature, ignore_eos)
                    output = self.model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs),
                                                 streamer=streamer, **kwargs)
                finished.append(self._finish(output[0, inputs.shape[1]:].tolist(), max_new_tokens, len(ids), name))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer's thread
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True, name="hibachi-stream")
        worker.start()
        first = True
        for delta in streamer:
            if first:
                delta, first = delta.lstrip(), False
            if delta:
                yield delta
        worker.join()
        if failure:
            raise failure[0]
        if stats is not None and finished:
            stats.update(completion_tokens=finished[0].completion_tokens, finish_reason=finished[0].finish_reason)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
