"""Clips shared between splits (a test clip also in the training data inflates its metrics): by path always,
by content where that is cheap (up to `CONTENT_LIMIT` clips: a hash of the size, the first and the last 64 KiB).

    report_overlap("train", train_examples, "test", test_examples)   # logs a warning with the count and an example
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from aum.data.examples import Example
from aum.data.webdataset import TAR_PREFIX

log = logging.getLogger(__name__)

CONTENT_LIMIT = 20000  # clips in both splits together; above that only paths are compared
BLOCK = 64 * 1024


def content_key(path: str) -> str | None:
    """blake2b of (size, first 64 KiB, last 64 KiB) of a local file; None for tar members or unreadable files."""
    if path.startswith(TAR_PREFIX):
        return None
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            digest = hashlib.blake2b(str(size).encode(), digest_size=16)
            digest.update(f.read(BLOCK))
            if size > 2 * BLOCK:
                f.seek(size - BLOCK)
            digest.update(f.read(BLOCK))
    except OSError:
        return None
    return digest.hexdigest()


def _canonical(path: str) -> str:
    return path if path.startswith(TAR_PREFIX) else os.path.normpath(os.path.abspath(path))


def find_overlap(train: list[Example], other: list[Example]) -> tuple[list[str], list[tuple[str, str]]]:
    """(paths of `other` also in `train`, [(other path, train path)] with the same content under another path)."""
    train_paths = {_canonical(ex.path) for ex in train}
    same_path = [ex.path for ex in other if _canonical(ex.path) in train_paths]
    same_content: list[tuple[str, str]] = []
    if len(train) + len(other) <= CONTENT_LIMIT:
        shared = set(same_path)
        keys: dict[str, str] = {}
        for ex in train:
            key = content_key(ex.path)
            if key is not None:
                keys.setdefault(key, ex.path)
        for ex in other:
            key = content_key(ex.path) if ex.path not in shared else None
            if key is not None and key in keys:
                same_content.append((ex.path, keys[key]))
    return same_path, same_content


def report_overlap(train_name: str, train: list[Example], other_name: str, other: list[Example]) -> int:
    """Log a warning naming the count and an example of `other` clips found in `train`; returns the count."""
    same_path, same_content = find_overlap(train, other)
    if same_path:
        log.warning("%d of %d %s clip(s) are also in the %s split (same path), e.g. %s: their metrics are not a "
                    "held-out result", len(same_path), len(other), other_name, train_name, same_path[0])
    if same_content:
        copy, original = same_content[0]
        log.warning("%d of %d %s clip(s) have the same content as %s clips, e.g. %s = %s: their metrics are not "
                    "a held-out result", len(same_content), len(other), other_name, train_name, copy,
                    Path(original).name)
    return len(same_path) + len(same_content)
