"""Start the KServe ModelServer with the chat predictor and the OpenAI-compatible routes."""

from __future__ import annotations

import sys
from pathlib import Path


def build_predictor(name: str, base_model: Path, adapters: dict[str, Path], merge: bool = True,
                    max_tokens_limit: int = 256, max_batch: int = 8):
    from serving.predictor import ChatPredictor

    return ChatPredictor(name, base_model, adapters, merge=merge, max_tokens_limit=max_tokens_limit,
                         max_batch=max_batch)


def serve(predictor, port: int, default_max_tokens: int = 128) -> None:
    """Load the weights, mount the OpenAI routes on KServe's app, and serve until a signal stops it.

    KServe's ModelServer binds every interface and parses ``sys.argv`` when its module is imported,
    so the command's own arguments are hidden from it first.
    """
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        import kserve
        from kserve.model_server import app
    finally:
        sys.argv = argv
    from serving.openai_routes import build_router

    predictor.load()
    app.include_router(build_router(predictor, predictor.max_tokens_limit, default_max_tokens))
    kserve.ModelServer(http_port=port, enable_grpc=False).start([predictor])
