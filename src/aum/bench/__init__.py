"""Benchmarks (`aum bench ...`): each module has `add_arguments(parser)` and `run(args)`; they print a table
and write CSV (and a PNG where a picture helps). Speed is measured here, never asserted in timed tests."""

from __future__ import annotations

import argparse


def add_option(parser: argparse.ArgumentParser, *flags: str, **kwargs) -> None:
    """Add an option unless the caller's parser already has it (e.g. a shared --device or --out)."""
    try:
        parser.add_argument(*flags, **kwargs)
    except argparse.ArgumentError:
        pass


def script_main(module, argv: list[str] | None = None) -> int:
    """`python -m aum.bench.<name>`: the module's own options (`add_arguments`) and `run`."""
    parser = argparse.ArgumentParser(prog=f"python -m {module.__name__}", description=module.__doc__.splitlines()[0])
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))




def write_csv(path, rows: list[dict], columns: list[str]) -> None:
    """Write rows (dicts) as CSV with the given column order, creating the folder."""
    import csv
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
