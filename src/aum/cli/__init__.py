"""`aum` command line: a thin front-end. Each sub-command lives in its own module in this folder and
exposes `register(subparsers)`; the module calls library functions only."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys

from aum import __version__
from aum.errors import AumError, RunInterrupted
from aum.fileinfo import os_error_reason

# Nothing here imports torch at module level: `main` sets OMP_WAIT_POLICY first (OpenMP reads it once, when torch
# loads); the sub-command modules, which load torch, are imported by `build_parser`.

# sub-command modules, in the order `aum --help` lists them
COMMANDS = ["demo", "train", "pretrain", "eval", "predict", "embed", "export", "serve", "data", "models", "bench"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aum", description="Audio Mamba (AuM) and SSAMBA: train, evaluate, "
                                     "predict, embed and benchmark attention-free audio models.")
    parser.add_argument("--version", action="version", version=f"aum {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and the compiled scan (default: aum.ops.threads policy; 0 = all)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"aum.cli.{name}").register(sub)
    return parser


# commands that get the CPU inference thread policy of aum.ops.threads (others keep torch's unless --threads)
INFERENCE_COMMANDS = ("predict", "embed", "eval")


GLOBAL_VALUED = ("--threads",)  # the global options that take a value


def with_default_demo(argv: list[str]) -> list[str]:
    """`aum demo [options]` runs the default demo: `aum demo keywords [options]`."""
    from aum.cli.demo import DEFAULT_DEMO, DEMOS  # after OMP_WAIT_POLICY is set (see above)

    i = 0
    while i < len(argv) and argv[i].startswith("-"):  # global options before the command
        i += 2 if argv[i] in GLOBAL_VALUED else 1
    if i < len(argv) and argv[i] == "demo":
        following = argv[i + 1] if i + 1 < len(argv) else None
        if following not in DEMOS and following not in ("-h", "--help"):
            return [*argv[:i + 1], DEFAULT_DEMO, *argv[i + 1:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    if "torch" not in sys.modules:  # read once by OpenMP at start-up: idle threads yield instead of spinning
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = with_default_demo(list(sys.argv[1:] if argv is None else argv))
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
    if args.threads is not None or args.command in INFERENCE_COMMANDS:
        from aum.ops.threads import configure_threads  # loads torch: kept out of the module level (see above)

        configure_threads(args.threads, args.threads)

    try:
        return int(args.func(args) or 0)
    except (RunInterrupted, KeyboardInterrupt) as e:  # a clean stop, not a crash
        print(f"aum {args.command}: {str(e) or 'interrupted'}", file=sys.stderr)
        return 130
    except (AumError, OSError) as e:  # bad input (AumError, a missing file, a full disk): one line; else a traceback
        if args.verbose or (isinstance(e, OSError) and not user_fixable(e)):
            raise
        print(f"aum {args.command}: error: {describe(e)}", file=sys.stderr)
        return 1


def user_fixable(error: OSError) -> bool:
    """A missing file, no permission, a full or read-only disk: the user's to fix, not a bug."""
    return isinstance(error, FileNotFoundError) or error.errno in (
        errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ELOOP, errno.ENOTDIR, errno.EISDIR)


def describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename and not isinstance(error, FileNotFoundError):
        return f"{error.filename}: {os_error_reason(error)}"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
