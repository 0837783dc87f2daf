"""What every reader returns, and the small helpers the readers share.

A reader turns a dataset in its own layout into `(examples, labels)`: `examples` is a list of `Example(path,
target)` where `target` holds class indices into `labels` (one index for single-label data, any number for
multi-label data such as AudioSet).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from aum.errors import DataError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus")
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "dev": "val", "eval": "test", "test": "test", "testing": "test"}


@dataclass(frozen=True)
class Example:
    path: str
    target: list[int] = field(default_factory=list)


class DataFormatError(DataError):
    """A dataset file that does not match its layout; the message is one line naming the file."""


def canonical_split(split: str) -> str:
    """'validation' -> 'val', 'eval' -> 'test', ...; unknown names raise."""
    try:
        return SPLIT_ALIASES[split.lower()]
    except KeyError:
        raise DataError(f"unknown split {split!r}: use train, val or test") from None


def require_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    return path


def require_dir(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: {what} folder not found")
    return path


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


def audio_files(folder: Path) -> list[Path]:
    """Audio files directly inside `folder` (sorted, hidden files skipped)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and is_audio(p))


def read_label_csv(path: str | Path) -> tuple[list[str], dict[str, int], list[str]]:
    """AudioSet-style `class_labels_indices.csv` (`index,mid,display_name`) -> (mids, mid->index, display names).

    Indices must be 0..C-1 (any order in the file)."""
    path = require_file(path, "label csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"index", "mid", "display_name"} <= set(rows[0]):
        raise DataFormatError(f"{path}: expected header 'index,mid,display_name'")
    try:
        rows.sort(key=lambda r: int(r["index"]))
    except ValueError as e:
        raise DataFormatError(f"{path}: non-integer index ({e})") from None
    if [int(r["index"]) for r in rows] != list(range(len(rows))):
        raise DataFormatError(f"{path}: indices must be 0..{len(rows) - 1} without gaps")
    mids = [r["mid"].strip() for r in rows]
    names = [r["display_name"].strip() for r in rows]
    for kind, values in (("mid", mids), ("display_name", names)):
        first: dict[str, int] = {}
        for i, value in enumerate(values):
            if not value:
                raise DataFormatError(f"{path}: empty {kind} at index {i}")
            if value in first:
                raise DataFormatError(f"{path}: {kind} {value!r} is used by index {first[value]} and index {i}; "
                                      "each class needs its own")
            first[value] = i
    return mids, {m: i for i, m in enumerate(mids)}, names


def label_order(found: list[str], label_csv: str | Path | None) -> list[str]:
    """Labels for single-label layouts: sorted names found on disk, or the order of `label_csv` (display names)
    when given (e.g. to match a checkpoint trained with AST's label file)."""
    if label_csv is None:
        return sorted(set(found))
    _, _, names = read_label_csv(label_csv)
    missing = sorted(set(found) - set(names))
    if missing:
        raise DataFormatError(f"{label_csv}: label(s) {missing[:5]} found in the data are not listed")
    return names


def index_targets(names: list[str], labels: list[str], source: str | Path) -> list[list[int]]:
    """Class name per example -> one-element target list; an unknown name raises naming `source`."""
    lookup = {n: i for i, n in enumerate(labels)}
    targets = []
    for name in names:
        if name not in lookup:
            raise DataFormatError(f"{source}: unknown label {name!r}")
        targets.append([lookup[name]])
    return targets


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by `key` (not by Python's salted hash): deterministic hash-based splits."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / 16**12
