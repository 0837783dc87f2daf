"""Benchmarks (`aum bench ...`): each module has `add_arguments(parser)` and `run(args)`; they print a table
and write CSV (and a PNG where a picture helps). Speed is measured here, never asserted in timed tests."""
