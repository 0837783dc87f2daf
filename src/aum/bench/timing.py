"""One way to time a callable for every benchmark: CUDA events on a GPU, perf_counter on the CPU."""

from __future__ import annotations

import time

import torch


def time_ms(fn, device: torch.device, warmup: int, repeats: int) -> list[float]:
    """Run `fn` warmup times untimed, then `repeats` times; returns each timed run in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return times
