"""Benchmarks (`aum bench ...`): each module has `add_arguments(parser)` and `run(args)`; they print a table
and write CSV (and a PNG where a picture helps). Speed is measured here, never asserted in timed tests."""

from __future__ import annotations

import argparse
import csv
import re
import sys
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


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """Rows as a fixed-width table; a column is (title, row key, format spec, e.g. "<10" or ">9.2f"). The title
    takes the spec's alignment and width; a row without the key shows nan."""
    print(" ".join(format(title, re.match(r"[<>^]?\d*", spec).group()) for title, _, spec in columns))
    for row in rows:
        print(" ".join(format(row.get(key, float("nan")), spec) for _, key, spec in columns))


def script_main(module, argv: list[str] | None = None) -> int:
    """`python -m aum.bench.<name>`: the module's own options (`add_arguments`) and `run`."""
    name = module.__spec__.name if module.__spec__ else module.__name__  # run by -m, __name__ is "__main__"
    parser = argparse.ArgumentParser(prog=f"python -m {name}", description=module.__doc__.splitlines()[0])
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


def run_as_script(module_name: str) -> None:
    """The last line of a benchmark module, `run_as_script(__name__)`: `python -m aum.bench.<name>` runs it
    (`script_main`); an import does nothing."""
    if module_name == "__main__":
        sys.exit(script_main(sys.modules[module_name]))
