"""The KServe predictor: a ``kserve.Model`` around ``ChatEngine``, answering v1 and v2 predict.

v1: ``{"instances": [{"messages": [...], "max_tokens": 64, "temperature": 0, "model": "v3"}, ...]}``
-> ``{"predictions": [{"text", "model", "prompt_tokens", "completion_tokens", "finish_reason"}]}``;
an instance may also be a plain string (one user message). v2: a BYTES input named ``messages``
(or ``text``) whose elements are JSON message lists or plain strings; the output ``text`` holds the
answers. ``ready`` turns true only once the weights are in memory.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import kserve
from kserve.errors import InvalidInput
from pydantic import ValidationError

from serving.engine import ChatEngine, ChatRequest, RequestTooLarge, UnknownAdapter
from serving.schemas import ChatMessage, V1Instance


class ChatPredictor(kserve.Model):
    def __init__(self, name: str, base_model: Path, adapters: dict[str, Path] | None = None, merge: bool = True,
                 max_tokens_limit: int = 256, max_batch: int = 8) -> None:
        super().__init__(name)
        self.base_model = Path(base_model)
        self.adapters = dict(adapters or {})
        self.merge = merge
        self.max_tokens_limit = max_tokens_limit
        self.max_batch = max_batch
        self.engine: ChatEngine | None = None
        self.ready = False

    def load(self) -> bool:
        self.engine = ChatEngine.load(self.base_model, self.adapters, merge=self.merge, max_batch=self.max_batch)
        self.ready = True
        return self.ready

    def _requests_from_v1(self, payload: dict) -> list[ChatRequest]:
        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list) or not instances:
            raise InvalidInput('expected {"instances": [...]} with at least one instance')
        requests = []
        for index, raw in enumerate(instances):
            item = {"messages": [{"role": "user", "content": raw}]} if isinstance(raw, str) else raw
            try:
                instance = V1Instance.model_validate(item)
            except ValidationError as exc:
                raise InvalidInput(f"instances[{index}]: {_first_error(exc)}") from None
            if instance.max_tokens > self.max_tokens_limit:
                raise InvalidInput(f"instances[{index}].max_tokens: at most {self.max_tokens_limit}")
            requests.append(ChatRequest([m.model_dump() for m in instance.messages], instance.max_tokens,
                                        instance.temperature, instance.model))
        return requests

    def _requests_from_v2(self, payload: kserve.InferRequest) -> list[ChatRequest]:
        chosen = [i for i in payload.inputs if i.name in ("messages", "text")]
        if not chosen:
            raise InvalidInput("v2 infer needs a BYTES input named 'messages' or 'text'")
        parameters = payload.parameters or {}
        max_tokens, limit = parameters.get("max_tokens", min(128, self.max_tokens_limit)), self.max_tokens_limit
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= limit:
            raise InvalidInput(f"parameters.max_tokens: an integer within 1-{limit}, got {max_tokens!r}")
        requests = []
        for index, raw in enumerate(chosen[0].data or []):
            value = raw.decode() if isinstance(raw, bytes) else raw
            try:
                parsed = json.loads(value) if isinstance(value, str) and value.lstrip().startswith("[") else value
                if isinstance(parsed, str):
                    parsed = [{"role": "user", "content": parsed}]
                messages = [ChatMessage.model_validate(m).model_dump() for m in parsed]
            except (ValidationError, TypeError, ValueError) as exc:
                raise InvalidInput(f"inputs[{chosen[0].name}][{index}]: not a message list or string ({exc})") from None
            if not messages:
                raise InvalidInput(f"inputs[{chosen[0].name}][{index}]: empty message list")
            requests.append(ChatRequest(messages, max_tokens))
        if not requests:
            raise InvalidInput("v2 infer: the input holds no elements")
        return requests

    def _run(self, requests: list[ChatRequest]):
        if self.engine is None:
            raise InvalidInput("model is not loaded")
        try:
            return self.engine.generate_batch(requests)
        except (RequestTooLarge, UnknownAdapter) as exc:
            raise InvalidInput(str(exc)) from None

    async def predict(self, payload: Any, headers: dict[str, str] | None = None,
                      response_headers: dict[str, str] | None = None) -> Any:
        from starlette.concurrency import run_in_threadpool

        if isinstance(payload, kserve.InferRequest):
            completions = await run_in_threadpool(self._run, self._requests_from_v2(payload))
            texts = [c.text for c in completions]
            output = kserve.InferOutput(name="text", shape=[len(texts)], datatype="BYTES", data=texts)
            return kserve.InferResponse(response_id=payload.id or uuid.uuid4().hex, model_name=self.name,
                                        infer_outputs=[output], model_version=completions[0].model)
        completions = await run_in_threadpool(self._run, self._requests_from_v1(payload))
        return {"predictions": [c.__dict__ for c in completions]}


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "(body)"
    return f"{where}: {error['msg']}"
