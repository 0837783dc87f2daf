"""Where a model's time goes: torch.profiler over a few inference forwards and training steps, with the device
time split into the selective-scan kernels, matrix products, attention kernels and the rest, then the top ops.

    python -m aum.bench.gpu_profile --model aum_base --tokens 4096 --batch 4 --dtype bf16 --out profile.txt

The steps are the ones `aum bench models` times (same model construction, input and optimizer). On the CPU the
split is over CPU self time (only a smoke test there: the chunked CPU scan is plain torch, so nothing is named
"scan"). Shares are of the profiled device time, which excludes gaps between launches; the wall time per step
from CUDA events is printed beside it so that launch overhead shows as the difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

from aum.bench.models import Case, build_model, frames_for_tokens, step_fn
from aum.bench.timing import time_ms
from aum.errors import UnavailableError

GROUPS = {  # first match wins; matched against the lower-cased kernel / op name
    "selective scan": ("scan",),
    "attention": ("flash", "fmha", "attention", "softmax"),
    "matrix products": ("gemm", "matmul", "cutlass", "xmma", "cublas", "addmm", "aten::mm", "aten::bmm", "linear"),
}


def group_of(name: str) -> str:
    lowered = name.lower()
    return next((group for group, keys in GROUPS.items() if any(k in lowered for k in keys)), "rest")


def split_times(events, on_cuda: bool) -> dict[str, float]:
    """ms per group over the profiler's raw events: on CUDA the device kernels' own time (an op's device time is
    its kernels', so ops are skipped, not counted twice), on the CPU each CPU op's self time."""
    totals = dict.fromkeys([*GROUPS, "rest"], 0.0)
    for event in events:
        is_cpu = event.device_type == torch.autograd.DeviceType.CPU
        if on_cuda != is_cpu:
            us = event.device_time_total if on_cuda else event.self_cpu_time_total
            totals[group_of(event.name)] += us / 1e3
    return totals


def profile_mode(args, mode: str, device: torch.device) -> str:
    frames = frames_for_tokens(args.tokens)
    attention = "-" if args.model.split("_")[0] in ("aum", "ssamba") else "sdpa"
    model = build_model(args.model, frames, attention, args.scan_backend, args.depth).to(device)
    step = step_fn(model, Case(args.model, attention, args.dtype, mode), args.batch, frames, device)
    wall = statistics.median(time_ms(step, device, warmup=2, repeats=args.steps))
    on_cuda = device.type == "cuda"
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if on_cuda else [])
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
        if on_cuda:
            torch.cuda.synchronize()
    events = prof.key_averages()
    totals = {group: ms / args.steps for group, ms in split_times(prof.events(), on_cuda).items()}
    profiled = sum(totals.values())
    clock = "device" if on_cuda else "CPU self"
    lines = [f"## {args.model} {mode} {args.dtype}, batch {args.batch}, {args.tokens} tokens, depth "
             f"{model.config.depth}, on {device.type}",
             f"wall per step (median of {args.steps}): {wall:.3f} ms; profiled {clock} time per step: "
             f"{profiled:.3f} ms",
             "| group | ms per step | share |", "|---|---|---|"]
    share = {group: 100 * ms / profiled if profiled else 0.0 for group, ms in totals.items()}
    lines += [f"| {group} | {ms:.3f} | {share[group]:.1f} % |" for group, ms in totals.items()]
    sort_key = "self_device_time_total" if on_cuda else "self_cpu_time_total"
    lines += ["", events.table(sort_by=sort_key, row_limit=args.top), ""]
    del model
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="aum_base", help="registered model name (default aum_base)")
    parser.add_argument("--tokens", type=int, default=4096, help="patch tokens (multiple of 8; default 4096)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dtype", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--modes", default="inference,train", help="comma list of inference,train")
    parser.add_argument("--depth", type=int, default=None, help="override the depth (quick runs)")
    parser.add_argument("--scan-backend", default="auto")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (after 2 warm-up steps)")
    parser.add_argument("--top", type=int, default=15, help="rows of the op table")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--out", default=None, help="text file for the report (also printed)")


def run(args: argparse.Namespace) -> int:
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UnavailableError("--device cuda: no CUDA device is available")
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    report = "\n".join(profile_mode(args, mode.strip(), device) for mode in args.modes.split(",") if mode.strip())
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aum.bench.gpu_profile", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
