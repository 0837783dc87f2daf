"""`aum bench fbank|scan|models|... [options]`: benchmarks. Each one is a module with `add_arguments(parser)` and
`run(args)` (`aum.bench.<name>`; the long-audio experiment lives in `aum.experiments`); it is imported only when
run, and parses its own options (`aum bench models --help`)."""

from __future__ import annotations

import argparse
import importlib

from aum.errors import UnavailableError

BENCHES = {
    "fbank": "our batched fbank vs kaldi-native-fbank (clips/s)",
    "scan": "selective-scan kernels: Triton vs reference vs mamba_ssm (time, bandwidth, exp/s)",
    "models": "AuM/SSAMBA vs AST/SSAST: time and peak memory vs tokens, inference and training step",
    "longaudio": "(experiment) keywords found in long recordings (timeline), accuracy vs input length, AuM vs AST",
    "threads": "CPU thread policies: inference time quiet and under a concurrent load",
    "export": "an ONNX export under onnxruntime beside eager PyTorch (CPU time, parity, export cost)",
}


def register(sub) -> None:
    listing = "\n".join(f"  {name:<8} {text}" for name, text in BENCHES.items())
    p = sub.add_parser("bench", help="benchmarks: fbank, scan kernels, models vs sequence length",
                       description=f"Run a benchmark.\n\n{listing}\n\nOptions of one: aum bench NAME --help",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", choices=list(BENCHES), metavar="NAME", help="one of: " + ", ".join(BENCHES))
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="options of that benchmark")
    p.set_defaults(func=run)


BENCH_MODULES = {"longaudio": "aum.experiments.longaudio"}  # the others: aum.bench.<name>


def load_bench(name: str):
    """The module of bench `name`; a clear error when this build does not have it."""
    module_name = BENCH_MODULES.get(name, f"aum.bench.{name}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise UnavailableError(f"'aum bench {name}' is not available: module {module_name} is missing") from None
    if not (callable(getattr(module, "add_arguments", None)) and callable(getattr(module, "run", None))):
        raise RuntimeError(f"{module_name} does not provide add_arguments(parser) and run(args)")
    return module


def run(args) -> int:
    module = load_bench(args.bench)
    doc = (module.__doc__ or "").strip()
    parser = argparse.ArgumentParser(prog=f"aum bench {args.bench}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.bench_args)) or 0)
