"""Readers for the YouTube-sourced layouts: VoxCeleb1 identification, VGGSound, AudioSet segment CSVs.

Clips of VGGSound and AudioSet are found by name in a folder (searched recursively); a clip listed but not on
disk is skipped and counted in one warning per split (YouTube data is never complete).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from aum.data import examples
from aum.data.examples import DataFormatError, Example
from aum.errors import DataError

log = logging.getLogger(__name__)

VOXCELEB_SPLITS = {"1": "train", "2": "val", "3": "test"}
YTID_LENGTH = 11


def read_voxceleb(split: str, *, root: str | Path, split_file: str = "iden_split.txt",
                  audio_dir: str | None = None) -> tuple[list[Example], list[str]]:
    """VoxCeleb1 identification: `iden_split.txt` lines `<1|2|3> idXXXXX/<video>/<clip>.wav` (1 train, 2 val,
    3 test); the speaker is the first path part; labels = sorted speakers of the whole file. Audio lives under
    `audio_dir` (default `root/wav` when it exists, else `root`)."""
    root = Path(root)
    split_path = examples.require_file(root / split_file, "VoxCeleb split file")
    base = root / audio_dir if audio_dir else (root / "wav" if (root / "wav").is_dir() else root)
    rows = []
    for n, line in enumerate(split_path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in VOXCELEB_SPLITS or "/" not in parts[1]:
            raise DataFormatError(f"{split_path}: line {n} is not '<1|2|3> idXXXXX/video/clip.wav': {line!r}")
        rows.append((VOXCELEB_SPLITS[parts[0]], parts[1]))
    labels = sorted({rel.split("/")[0] for _, rel in rows})
    chosen = [rel for s, rel in rows if s == examples.canonical_split(split)]
    targets = examples.index_targets([rel.split("/")[0] for rel in chosen], labels, split_path)
    return [Example(str(base / rel), t) for rel, t in zip(chosen, targets)], labels


def index_audio(folder: Path) -> dict[str, Path]:
    """stem -> path of every audio file under `folder` (recursive; the first one wins on duplicates)."""
    found: dict[str, Path] = {}
    for p in sorted(examples.require_dir(folder, "audio").rglob("*")):
        if p.is_file() and examples.is_audio(p):
            found.setdefault(p.stem, p)
    return found


def _warn_missing(missing: list[str], total: int, listing: Path, folder: Path) -> None:
    if missing:
        log.warning("%s: %d of %d clips not found under %s (skipped; e.g. %s)", listing, len(missing), total,
                    folder, ", ".join(missing[:3]))


def read_vggsound(split: str, *, root: str | Path, csv_file: str = "vggsound.csv", audio_dir: str | None = None,
                  name_pattern: str = "{ytid}_{start:06d}",
                  label_csv: str | None = None) -> tuple[list[Example], list[str]]:
    """VGGSound: `vggsound.csv` without header (ytid, start_seconds, label, train|test); a clip is the file whose
    stem is `name_pattern` (default `{ytid}_{start:06d}`, e.g. `---g-f_I2yQ_000001.flac`) under `audio_dir`
    (default `root`). VGGSound has no validation split: `val` reads the test rows."""
    root = Path(root)
    listing = examples.require_file(root / csv_file, "VGGSound csv")
    with open(listing, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if any(len(r) != 4 for r in rows):
        raise DataFormatError(f"{listing}: expected 4 columns (ytid, start_seconds, label, train|test)")
    labels = examples.label_order([r[2] for r in rows], root / label_csv if label_csv else None)
    wanted = "train" if examples.canonical_split(split) == "train" else "test"
    folder = root / audio_dir if audio_dir else root
    on_disk = index_audio(folder)
    found, missing = [], []
    for ytid, start, label, row_split in rows:
        if row_split.strip() != wanted:
            continue
        stem = name_pattern.format(ytid=ytid, start=int(float(start)))
        if stem in on_disk:
            found.append((on_disk[stem], label))
        else:
            missing.append(stem)
    _warn_missing(missing, len(found) + len(missing), listing, folder)
    targets = examples.index_targets([label for _, label in found], labels, listing)
    return [Example(str(path), t) for (path, _), t in zip(found, targets)], labels


def _ytid_lookup(on_disk: dict[str, Path]) -> dict[str, Path]:
    """YTID -> file, for stems `<ytid>`, `<ytid>_<start>...` and the common `Y<ytid>...` naming."""
    lookup = {stem[:YTID_LENGTH]: p for stem, p in on_disk.items()}
    for stem, p in on_disk.items():
        if stem.startswith("Y") and len(stem) > YTID_LENGTH:
            lookup.setdefault(stem[1:YTID_LENGTH + 1], p)
    return lookup


def read_segment_csv(path: Path) -> list[tuple[str, list[str]]]:
    """AudioSet segment CSV (`#` header lines; `YTID, start, end, "/m/a,/m/b"`) -> [(ytid, [mids])]."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, skipinitialspace=True) if r and not r[0].startswith("#")]
    if any(len(r) != 4 for r in rows):
        raise DataFormatError(f'{path}: expected rows YTID, start, end, "labels"')
    return [(r[0].strip(), [m.strip() for m in r[3].split(",") if m.strip()]) for r in rows]


def read_audioset(split: str, *, root: str | Path = ".", train: str | None = None, val: str | None = None,
                  test: str | None = None, audio_dir: str | None = None,
                  label_csv: str = "class_labels_indices.csv") -> tuple[list[Example], list[str]]:
    """AudioSet: a segment CSV per split (`train`/`val`/`test` keys, e.g. balanced_train_segments.csv) and a
    folder of clips found by YTID prefix (`audio_dir`, default `root`); labels are the mids of `label_csv`."""
    split = examples.canonical_split(split)
    listing = {"train": train, "val": val, "test": test}[split]
    if listing is None:
        raise DataError(f"audioset data: no segment csv for split {split!r} (set data.{split})")
    root = Path(root)
    listing = examples.require_file(root / listing, "AudioSet segment csv")
    mids, mid_index, _ = examples.read_label_csv(root / label_csv)
    folder = root / audio_dir if audio_dir else root
    lookup = _ytid_lookup(index_audio(folder))
    clips, missing = [], []
    for ytid, clip_mids in read_segment_csv(listing):
        unknown = [m for m in clip_mids if m not in mid_index]
        if unknown:
            raise DataFormatError(f"{listing}: unknown label {unknown[0]!r} (not in {label_csv})")
        if ytid not in lookup:
            missing.append(ytid)
            continue
        clips.append(Example(str(lookup[ytid]), [mid_index[m] for m in clip_mids]))
    _warn_missing(missing, len(clips) + len(missing), listing, folder)
    return clips, mids
