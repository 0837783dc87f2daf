"""Say what is wrong with a path or an I/O failure in a few words ("symlink loop", "permission denied", ...).

Used by every reader (audio, checkpoints, configs) so that a symlink loop or a FIFO is not reported as a missing
file, and a full disk is named as such whichever library (Python, safetensors, torch) hit it.
"""

from __future__ import annotations

import errno
import os
import stat

OS_ERROR_REASONS = {
    errno.ENOENT: "file not found",
    errno.ELOOP: "symlink loop",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "a parent of the path is not a directory",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.ENAMETOOLONG: "file name too long",
    errno.EIO: "input/output error",
}
# what libraries that do not raise OSError say for the same conditions
_MESSAGE_REASONS = (
    ("no space left", "no space left on device"),
    ("os error 28", "no space left on device"),
    ("disk quota", "disk quota exceeded"),
    ("permission denied", "permission denied"),
    ("os error 13", "permission denied"),
    ("read-only file system", "read-only file system"),
)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a regular file ("file not found", "symlink loop", "is a directory",
    "not a regular file (a FIFO)", "permission denied", "empty file (0 bytes)"), or None when it can."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ENOENT and os.path.islink(path):
            return "broken symlink (its target does not exist)"
        return os_error_reason(e)
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({_kind(st.st_mode)})"
    if not os.access(path, os.R_OK):
        return "permission denied"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return None


def os_error_reason(error: BaseException) -> str:
    """A short reason for an I/O failure: OSError by errno, other libraries' errors by their message."""
    if isinstance(error, OSError) and error.errno in OS_ERROR_REASONS:
        return OS_ERROR_REASONS[error.errno]
    text = " ".join(str(error).split())
    lowered = text.lower()
    for needle, reason in _MESSAGE_REASONS:
        if needle in lowered:
            return reason
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return text or type(error).__name__


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def respect_umask(path: str | os.PathLike) -> None:
    """Give a file written by a library that forces 0600 the usual mode (0666 minus the umask)."""
    os.chmod(path, 0o666 & ~current_umask())
