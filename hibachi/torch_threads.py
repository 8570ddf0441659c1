"""Torch's CPU threads for a block of work (a pipeline step, the predictor), as `training.cpu_threads` or
`serving.cpu_threads` says."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads on CPU, then restore the previous count.

    The stand-in's matrices are too small to split: on the 2-core machine one thread trained 5x faster
    than two, and the evaluation step (generation and embeddings) ran in 96 s instead of 188 s while
    another job held the second core. 0, or a CUDA device, leaves torch's default.
    """
    import torch

    if not threads or torch.cuda.is_available():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
