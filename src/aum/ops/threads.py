"""CPU thread policy for inference: torch intra-op threads and numba's kernel threads.

Measured with `aum bench threads` (BENCHMARKS.md): with other processes busy on the cores, torch's intra-op
thread pool stalls at every one of the many small ops of a Mamba layer (each waits for its slowest thread, and one
thread loses its core for a whole timeslice), so a model got 10-30x slower. The compiled scan is one parallel
region per layer and degrades less. `configure_threads` applies the chosen defaults; `--threads N` on the command
line or AUM_THREADS=N overrides both counts (0 or "all": one thread per core).
"""

from __future__ import annotations

import logging
import os

import torch

from aum.errors import ConfigError

log = logging.getLogger(__name__)

ENV = "AUM_THREADS"
DEFAULT_TORCH_THREADS = 1  # small ops: a single thread has no barrier to stall at
DEFAULT_NUMBA_THREADS = 0  # 0 = every core: the scan's one parallel region per layer


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _count(value: int | None) -> int:
    return _cores() if not value else max(1, int(value))


def configure_threads(torch_threads: int | None = None, numba_threads: int | None = None) -> tuple[int, int]:
    """Set the torch and numba thread counts; None = AUM_THREADS if set, else the defaults. Returns both."""
    env = os.environ.get(ENV, "").strip().lower()
    if env:
        if env != "all" and not env.isdigit():
            raise ConfigError(f"{ENV}={env!r}: expected a thread count or 'all'")
        torch_threads = torch_threads if torch_threads is not None else (0 if env == "all" else int(env))
        numba_threads = numba_threads if numba_threads is not None else (0 if env == "all" else int(env))
    counts = (_count(DEFAULT_TORCH_THREADS if torch_threads is None else torch_threads),
              _count(DEFAULT_NUMBA_THREADS if numba_threads is None else numba_threads))
    torch.set_num_threads(counts[0])
    try:
        import numba  # optional: without it only torch's threads are set
    except ImportError:
        return counts[0], 0
    numba.set_num_threads(min(counts[1], numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    log.debug("threads: torch %d, numba %d (%s layer)", counts[0], numba.get_num_threads(),
              numba.config.THREADING_LAYER)  # type: ignore[attr-defined]
    return counts[0], numba.get_num_threads()
