"""`aum` command line: a thin front-end. Each sub-command lives in its own module in this folder and
exposes `register(subparsers)`; the module calls library functions only."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# sub-command modules, in the order `aum --help` lists them
COMMANDS = ["demo", "train", "pretrain", "eval", "predict", "embed", "export", "serve", "data", "models", "bench"]


def build_parser() -> argparse.ArgumentParser:
    from aum import __version__

    parser = argparse.ArgumentParser(prog="aum", description="Audio Mamba (AuM) and SSAMBA: train, evaluate, "
                                     "predict, embed and benchmark attention-free audio models.")
    parser.add_argument("--version", action="version", version=f"aum {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"aum.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # `key=value` overrides may follow the flags (`aum train cfg.yaml --out X optim.lr=1e-4`): argparse leaves
    # them over once the positional list was closed by a flag, so collect them here.
    args, extra = parser.parse_known_args(argv)
    stray = [e for e in extra if e.startswith("-") or "=" not in e]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = [*(args.overrides or []), *extra]
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, RuntimeError) as e:  # boundary errors: one line, no traceback
        if args.verbose:
            raise
        print(f"aum {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
