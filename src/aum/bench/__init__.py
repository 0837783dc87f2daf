"""Benchmarks (`aum bench ...`): each module has `add_arguments(parser)` and `run(args)`; they print a table
and write CSV (and a PNG where a picture helps). Speed is measured here, never asserted in timed tests."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def add_option(parser: argparse.ArgumentParser, *flags: str, **kwargs) -> None:
    """Add an option unless the caller's parser already has it (e.g. a shared --device or --out)."""
    try:
        parser.add_argument(*flags, **kwargs)
    except argparse.ArgumentError:
        pass


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    """Write rows (missing keys left empty) to path, making its folder; says where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")


def script_main(module, argv: list[str] | None = None) -> int:
    """`python -m aum.bench.<name>`: the module's own options (`add_arguments`) and `run`."""
    parser = argparse.ArgumentParser(prog=f"python -m {module.__name__}", description=module.__doc__.splitlines()[0])
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))



