"""`aum bench threads`: CPU inference time of one model under thread policies, quiet and under a concurrent load.

Each policy runs in a fresh subprocess (the OpenMP wait policy and numba's threading layer are fixed when a process
starts): torch intra-op threads, numba threads, OMP_WAIT_POLICY and NUMBA_THREADING_LAYER. The load is `--load`
busy processes (a pure-Python spin each), started before and stopped after each loaded run. Reported: the median
of `--repeats` inference runs after one warm-up, and the slowdown under load against the same policy quiet.

    aum bench threads --model aum_tiny --tokens 512 --load 2 --out bench_out
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from aum.bench import add_option, run_as_script, write_csv
from aum.bench.models import build_model, frames_for_tokens
from aum.ops.threads import configure_threads

COLUMNS = ["model", "tokens", "policy", "torch_threads", "numba_threads", "omp_wait", "numba_layer", "load",
           "median_ms", "min_ms", "slowdown_vs_quiet"]
# (name, torch threads, numba threads, OMP_WAIT_POLICY, NUMBA_THREADING_LAYER); 0 = every core, None = the default
DEFAULT_POLICY = "default (aum.ops.threads)"
POLICIES = [("1 thread", 1, 1, "", ""), ("all cores", 0, 0, "", ""), ("all cores, passive wait", 0, 0, "PASSIVE", ""),
            ("all cores, workqueue", 0, 0, "", "workqueue"),
            (DEFAULT_POLICY, None, None, "PASSIVE", "")]
SPIN = "import time\nend = time.time() + 3600\nwhile time.time() < end: pass\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option(parser, "--model", default="aum_tiny", help="registered model (default aum_tiny)")
    add_option(parser, "--tokens", type=int, default=512, help="patch tokens (default 512 = a 10 s clip)")
    add_option(parser, "--load", type=int, default=2, help="busy processes started for the loaded runs (default 2)")
    add_option(parser, "--repeats", type=int, default=5, help="timed runs per policy and load (default 5)")
    add_option(parser, "--depth", type=int, default=None, help="override the model depth (quick runs)")
    add_option(parser, "--out", default=None, help="CSV file, or a folder that gets threads.csv")
    add_option(parser, "--worker", default=None, help=argparse.SUPPRESS)


def _worker(spec: dict) -> None:
    """In the subprocess: time the model with the policy the environment and `spec` set; print JSON."""
    configure_threads(spec["torch_threads"], spec["numba_threads"])
    frames = frames_for_tokens(spec["tokens"])
    model = build_model(spec["model"], frames, "-", "auto", spec["depth"]).eval()
    x = torch.randn(1, frames, 128)
    times = []
    with torch.inference_mode():
        model(x)
        for _ in range(spec["repeats"]):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times)}))


def _label(threads: int | None) -> str:
    return "default" if threads is None else (str(threads) if threads else "all")


def _run_policy(args, policy, load: int) -> dict:
    name, torch_threads, numba_threads, wait, layer = policy
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("NUMBA_THREADING_LAYER", None)
    env.pop("AUM_THREADS", None)
    env.update({k: v for k, v in (("OMP_WAIT_POLICY", wait), ("NUMBA_THREADING_LAYER", layer)) if v})
    spec = dict(model=args.model, tokens=args.tokens, repeats=args.repeats, depth=args.depth,
                torch_threads=torch_threads, numba_threads=numba_threads)
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(load)]
    try:
        done = subprocess.run([sys.executable, "-m", "aum.bench.threads", "--worker", json.dumps(spec)], env=env,
                              capture_output=True, text=True, check=False)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    if done.returncode != 0:
        raise RuntimeError(f"thread policy {name!r}: worker failed: {done.stderr.strip().splitlines()[-1:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return dict(model=args.model, tokens=args.tokens, policy=name, torch_threads=_label(torch_threads),
                numba_threads=_label(numba_threads), omp_wait=wait or "default", numba_layer=layer or "default",
                load=load, median_ms=round(result["median_ms"], 1), min_ms=round(result["min_ms"], 1),
                slowdown_vs_quiet="")


def run(args: argparse.Namespace) -> int:
    if args.worker:
        _worker(json.loads(args.worker))
        return 0
    print(f"aum bench threads: {args.model}, {args.tokens} tokens, batch 1, {os.cpu_count()} cores, "
          f"load = {args.load} busy processes")
    print(f"{'policy':<28} {'quiet ms':>9} {'loaded ms':>10} {'slowdown':>9}")
    rows = []
    for policy in POLICIES:
        quiet, loaded = _run_policy(args, policy, 0), _run_policy(args, policy, args.load)
        loaded["slowdown_vs_quiet"] = round(loaded["median_ms"] / quiet["median_ms"], 2)
        rows += [quiet, loaded]
        print(f"{policy[0]:<28} {quiet['median_ms']:>9} {loaded['median_ms']:>10} {loaded['slowdown_vs_quiet']:>8}x")
    if args.out:
        path = Path(args.out)
        write_csv(path if path.suffix == ".csv" else path / "threads.csv", rows, COLUMNS)
    return 0


run_as_script(__name__)
