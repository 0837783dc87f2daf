"""What keeps a run honest: one process per run folder, a clean stop on Ctrl-C / SIGTERM, and no run reported as
a success when its data was (nearly) all unreadable.

    with RunLock(out_dir):            # OUT/.lock, flock'ed, holding the pid; a second run refuses "in use by pid N"
        with StopRequest() as stop:   # SIGINT / SIGTERM set stop.requested; the trainer stops between steps
            ...
    check_bad_share(epoch, good, bad, max_fraction)   # DataError with the counts
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
from pathlib import Path

from aum.errors import ConfigError, DataError

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"


class RunLock:
    """An exclusive `fcntl.flock` on `<run folder>/.lock` (the holder's pid written in it), released on exit or when
    the process dies. A second run into the same folder gets a ConfigError naming the holder's pid."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"{self.path.parent}: in use by pid {holder} (another run writes this folder); "
                              "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class StopRequest:
    """While active, SIGINT and SIGTERM only set `requested` (the trainer finishes the optimizer step, saves
    `last/` and raises RunInterrupted); a second signal raises KeyboardInterrupt at once. Outside the main thread
    (where Python cannot install handlers) it does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signal: int | None = None
        self._previous: dict = {}
        self._pid = os.getpid()

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal is not None else ""

    def _handle(self, signum, frame) -> None:
        if os.getpid() != self._pid:  # a forked DataLoader worker inherited the handler: the main process decides
            return
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        log.warning("%s received: stopping after this step and saving last/ (send it again to stop at once)",
                    signal.Signals(signum).name)

    def __enter__(self) -> StopRequest:
        self._pid = os.getpid()
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def check_bad_share(epoch: int, good: int, bad: int, max_fraction: float) -> None:
    """DataError when an epoch had no usable training clip, or more than `max_fraction` of its clips were bad."""
    total = good + bad
    if total and good == 0:
        raise DataError(f"epoch {epoch}: all {bad} training clip(s) were unreadable, nothing was trained (see the "
                        "'bad clip skipped' warnings for the files)")
    if total and bad / total > max_fraction:
        raise DataError(f"epoch {epoch}: {bad} of {total} training clips were unreadable ({bad / total:.0%} > "
                        f"train.max_bad_fraction={max_fraction:g}); fix the data or raise the limit")
