"""The errors `aum` raises for things a user can fix: each message is one line naming the file or key and the cause.

    AumError                      base: the CLI prints it as `aum CMD: error: <message>` and exits 1
    ├── ConfigError (ValueError)  a config key, override or command-line option that cannot be used
    ├── AudioError (ValueError)   a file or array that cannot be used as audio ("<path>: <reason>")
    ├── DataError (ValueError)    a dataset / manifest / label file problem, or a run that trained on nothing
    ├── CheckpointError (ValueError)  a checkpoint file that cannot be read or written ("<path>: <cause>")
    │   └── CheckpointMismatch (RuntimeError)  weights that do not fit the model
    ├── UnavailableError (RuntimeError)  a requested device, backend or tool that is not there
    ├── TrainingError (RuntimeError)     training diverged (non-finite loss)
    └── RunInterrupted            Ctrl-C / SIGTERM: the run stopped cleanly and says how to resume

Anything else that escapes is a bug and keeps its traceback. The extra built-in bases keep older `except
ValueError` / `except RuntimeError` callers working.
"""

from __future__ import annotations

import difflib
import importlib.util
import os


class AumError(Exception):
    """An error with a one-line message meant for the user (no traceback needed)."""


class ConfigError(AumError, ValueError):
    """A config file, override or option that cannot be used; the message names the key and the fix."""


class AudioError(AumError, ValueError):
    """A file that cannot be used as audio. `str(error)` is one line: "<path>: <reason>"."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = one_line(reason)  # one line whatever the library said
        super().__init__(f"{self.path}: {self.reason}")


class DataError(AumError, ValueError):
    """A dataset, manifest or label file that cannot be used, or a run whose data was (nearly) all bad."""


class CheckpointError(AumError, ValueError):
    """A checkpoint file that cannot be read or written: "<path>: <cause>"."""

    def __init__(self, path: str | os.PathLike, cause: str):
        self.path = str(path)
        self.cause = one_line(cause)
        super().__init__(f"{self.path}: {self.cause}")


class CheckpointMismatch(AumError, RuntimeError):
    """Weights that do not fit the model (missing / unexpected / reshaped keys, variant mismatch)."""


class UnavailableError(AumError, RuntimeError):
    """A device, backend or external tool that was asked for but is not available here."""


class TrainingError(AumError, RuntimeError):
    """Training cannot go on (e.g. a non-finite loss)."""


class RunInterrupted(AumError):
    """The run was stopped by Ctrl-C or SIGTERM after saving `last/`; the message says how to resume."""


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def did_you_mean(word: str, choices) -> str:
    """' (did you mean 'x'?)' for the closest of `choices`, or '' when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def require_extra(what: str, extra: str, modules: tuple[str, ...]) -> None:
    """Raise a one-line UnavailableError naming the missing modules and the extra that installs them, e.g.
    "aum serve needs fastapi (not installed): pip install 'aum[serve]'"."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UnavailableError(f"{what} needs {', '.join(missing)} (not installed): pip install 'aum[{extra}]'")
