"""`aum bench scan`: selective-scan backends over sequence length, forward and forward+backward.

Each row is one (backend, length, pass): the median (and min) of `--repeats` timed runs after one warm-up run; the
backends of one (length, pass) run interleaved, run by run, so that load from other processes hits them alike. On
CPU the process CPU time is reported too (with --threads 1 it is the compute cost, robust on a shared machine).
The per-step reference gets at most 3 runs and only lengths up to `--ref-max-length`: it is slow. Inputs are the
AuM call: softplus(Δ + bias), D skip and z gate, fp32 unless `--dtype` says otherwise; `--op bidirectional` times
the fused two-direction call (Fo-Bi: only A differs).

Peak memory (above the inputs, which exist before the run): on CUDA `torch.cuda.max_memory_allocated`; on CPU the
peak of torch's allocations replayed from the profiler's memory events over one run (RSS-based numbers proved
unreliable here: pages freed with madvise never reach ru_maxrss). `BDLN_MiB` is the size of one fp32 (B, D, L, N)
tensor, the memory trap to compare to. On CUDA, forward rows also report the achieved bandwidth (bytes of the
inputs read and the output written, divided by the time) and exponentials per second (B·D·L·N per direction).

    python -m aum.bench.scan --lengths 512 1024 2048 4096 8192 --threads 1 --out bench_out
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from aum.bench import add_option, print_table, run_as_script, write_csv
from aum.errors import ConfigError, UnavailableError
from aum.ops import available_backends, bidirectional_scan, selective_scan
from aum.ops.threads import configure_threads

COLUMNS = ["backend", "op", "device", "dtype", "pass", "batch", "dim", "state", "length", "threads", "median_ms",
           "min_ms", "cpu_time_ms", "speedup_vs_ref", "speedup_cpu_time", "peak_mem_MiB", "BDLN_MiB", "GB_per_s",
           "Gexp_per_s"]
CPU_LENGTHS, CUDA_LENGTHS = [512, 1024, 2048, 4096, 8192], [1024, 4096, 16384, 65536]
MiB = 2**20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--lengths", type=int, nargs="+", default=None,
         help=f"sequence lengths (default CPU {CPU_LENGTHS}, CUDA {CUDA_LENGTHS})")
    add_option(parser, "--batch", type=int, default=None, help="batch size (default 2 on CPU, 8 on CUDA)")
    add_option(parser, "--dim", type=int, default=None,
               help="channels d_inner (default 384 = AuM-tiny on CPU, 1536 CUDA)")
    add_option(parser, "--state", type=int, default=16, help="state size N (default 16)")
    add_option(parser, "--backends", nargs="+", default=None,
         help="backends to time (default: every available one for the device, 'ref' only for short sequences)")
    add_option(parser, "--ref-max-length", type=int, default=1024, help="longest sequence the loop reference runs")
    add_option(parser, "--op", default="scan", choices=["scan", "bidirectional"], help="one direction or both")
    add_option(parser, "--dtype", default="float32", choices=["float32", "bfloat16", "float16"], help="input dtype")
    add_option(parser, "--repeats", type=int, default=5, help="timed runs per row; the median is reported (default 5)")
    add_option(parser, "--threads", type=int, default=None,
               help="CPU threads of torch and numba (default: torch's choice, numba all cores)")
    add_option(parser, "--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CUDA when present")
    add_option(parser, "--no-memory", action="store_true", help="skip the peak-memory measurement (faster)")
    add_option(parser, "--out", default=None, help="CSV file, or a folder that gets scan.csv")


def make_inputs(batch: int, dim: int, state: int, length: int, device="cpu", dtype=torch.float32, grad=False):
    """AuM-like scan inputs: u, Δ, z, B, C in `dtype`; A, D, Δ-bias fp32 (as the model keeps them)."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape, scale=1.0, to=dtype):
        return (torch.randn(*shape, generator=gen) * scale).to(device, to).requires_grad_(grad)

    A = -torch.arange(1, state + 1, dtype=torch.float32).repeat(dim, 1).to(device).requires_grad_(grad)  # (D, N)
    return dict(u=rand(batch, dim, length), delta=rand(batch, dim, length, scale=0.5), A=A,
                B=rand(batch, state, length), C=rand(batch, state, length), D=rand(dim, to=torch.float32),
                z=rand(batch, dim, length), delta_bias=rand(dim, scale=0.5, to=torch.float32))


def _call(op: str, backend: str, inputs: dict) -> torch.Tensor:
    if op == "bidirectional":
        return bidirectional_scan(**inputs, A_b=inputs["A"], backend=backend)
    return selective_scan(**inputs, delta_softplus=True, backend=backend)


def _runner(op: str, backend: str, inputs: dict, with_backward: bool):
    def forward():
        with torch.no_grad():
            return _call(op, backend, inputs)

    def forward_backward():
        out = _call(op, backend, inputs)
        out.backward(torch.ones_like(out))
        for tensor in inputs.values():
            tensor.grad = None

    return forward_backward if with_backward else forward


def _time_once(fn, device: str) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one call; CUDA: event time and NaN."""
    if device == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end), float("nan")
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def _time_interleaved(fns: dict, repeats: dict, device: str) -> dict[str, tuple[list, list]]:
    """Warm up, then alternate the backends run by run, so that load from other processes hits all of them alike."""
    for fn in fns.values():
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    times = {name: ([], []) for name in fns}
    for round_index in range(max(repeats.values())):
        for name, fn in fns.items():
            if round_index < repeats[name]:
                wall, cpu = _time_once(fn, device)
                times[name][0].append(wall)
                times[name][1].append(cpu)
    return times


def _cuda_peak_mib(fn) -> float:
    torch.cuda.synchronize()
    baseline = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - baseline) / MiB


def cpu_peak_mib(fn) -> float:
    """Peak of torch's CPU allocations during one run, replayed from the profiler's memory events (exact for
    tensors, unlike RSS: freed pages and allocator caching hide peaks)."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    current = peak = 0
    for event in events:
        if event.device_type() == torch.autograd.DeviceType.CPU:
            current += event.nbytes()
            peak = max(peak, current)
    return peak / MiB


def _backends(args, device: str) -> list[str]:
    if args.backends:
        return list(args.backends)
    have = available_backends()
    wanted = ["triton", "mamba_ssm"] if device == "cuda" else ["numba", "cpu", "ref"]
    return [name for name in wanted if name in have]


def _settings(args) -> dict:
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UnavailableError("--device cuda was asked for but CUDA is not available")
    on_cuda = device == "cuda"
    return dict(device=device, lengths=args.lengths or (CUDA_LENGTHS if on_cuda else CPU_LENGTHS),
                batch=args.batch or (8 if on_cuda else 2), dim=args.dim or (1536 if on_cuda else 384),
                state=args.state, dtype=args.dtype, op=args.op)


def _throughput(row: dict, median_ms: float, dtype: torch.dtype) -> None:
    """Forward rows on CUDA: achieved GB/s of the unavoidable I/O and exponentials per second."""
    b, d, n, length = row["batch"], row["dim"], row["state"], row["length"]
    directions = 2 if row["op"] == "bidirectional" else 1
    element = torch.empty((), dtype=dtype).element_size()
    io_bytes = (4 * b * d * length + 2 * b * n * length) * element  # u, Δ, z, B, C read; out written
    row["GB_per_s"] = io_bytes / (median_ms * 1e-3) / 1e9
    row["Gexp_per_s"] = directions * b * d * length * n / (median_ms * 1e-3) / 1e9


def _measure(args, settings: dict, backends: list[str], length: int, with_backward: bool) -> list[dict]:
    """One row per backend for this (length, pass), timed interleaved."""
    s = settings
    dtype = getattr(torch, s["dtype"])
    fns = {name: _runner(s["op"], name, make_inputs(s["batch"], s["dim"], s["state"], length, s["device"], dtype,
                                                    grad=with_backward), with_backward) for name in backends}
    repeats = {name: min(args.repeats, 3) if name == "ref" else args.repeats for name in backends}
    rows = []
    for name, (wall, cpu) in _time_interleaved(fns, repeats, s["device"]).items():
        row = {"backend": name, "op": s["op"], "device": s["device"], "dtype": s["dtype"],
               "pass": "fwd+bwd" if with_backward else "fwd", "batch": s["batch"], "dim": s["dim"],
               "state": s["state"], "length": length, "threads": torch.get_num_threads(),
               "median_ms": statistics.median(wall), "min_ms": min(wall), "cpu_time_ms": statistics.median(cpu),
               "BDLN_MiB": s["batch"] * s["dim"] * length * s["state"] * 4 / MiB}
        if not args.no_memory:
            row["peak_mem_MiB"] = _cuda_peak_mib(fns[name]) if s["device"] == "cuda" else cpu_peak_mib(fns[name])
        if s["device"] == "cuda" and not with_backward:
            _throughput(row, row["median_ms"], dtype)
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    if getattr(args, "threads", None) is not None:
        configure_threads(args.threads, args.threads)
    if args.repeats < 1:
        raise ConfigError("--repeats must be positive")
    settings = _settings(args)
    backends = _backends(args, settings["device"])
    if not backends:
        raise UnavailableError(f"no selective-scan backend to time on {settings['device']} (available: "
                           f"{available_backends()}); name one with --backends")
    rows = []
    for length in settings["lengths"]:
        here = [name for name in backends if name != "ref" or length <= args.ref_max_length]
        for with_backward in (False, True):
            rows += _measure(args, settings, here, length, with_backward)
    rows.sort(key=lambda r: (r["backend"], r["length"], r["pass"]))
    _add_speedups(rows)
    _print_table(rows, settings)
    _write_csv(rows, getattr(args, "out", None))
    return 0


def _add_speedups(rows: list[dict]) -> None:
    """Speedup over the reference row of the same (length, pass): by median wall time and by process CPU time."""
    ref = {(r["length"], r["pass"]): r for r in rows if r["backend"] == "ref"}
    for row in rows:
        base = ref.get((row["length"], row["pass"]))
        row["speedup_vs_ref"] = base["median_ms"] / row["median_ms"] if base else float("nan")
        row["speedup_cpu_time"] = base["cpu_time_ms"] / row["cpu_time_ms"] if base else float("nan")


def _write_csv(rows: list[dict], out: str | None) -> None:
    if out is None:
        return
    path = Path(out)
    path = path if path.suffix == ".csv" else path / "scan.csv"
    write_csv(path, rows, COLUMNS)


TABLE = [("backend", "backend", "<10"), ("pass", "pass", "<8"), ("L", "length", ">6"),
         ("median ms", "median_ms", ">10.2f"), ("min ms", "min_ms", ">9.2f"), ("CPU ms", "cpu_time_ms", ">9.2f"),
         ("x ref", "speedup_vs_ref", ">7.2f"), ("x ref CPU", "speedup_cpu_time", ">9.2f"),
         ("peak MiB", "peak_mem_MiB", ">9.1f"), ("BDLN MiB", "BDLN_MiB", ">9.1f"), ("GB/s", "GB_per_s", ">7.1f"),
         ("Gexp/s", "Gexp_per_s", ">7.2f")]


def _print_table(rows: list[dict], s: dict) -> None:
    print(f"selective scan ({s['op']}) on {s['device']}: B={s['batch']} D={s['dim']} N={s['state']} {s['dtype']}, "
          f"{torch.get_num_threads()} torch threads")
    print_table(rows, TABLE)


run_as_script(__name__)
