"""Data formats of the YouTube-sourced layouts: VoxCeleb1 identification, VGGSound, AudioSet segment CSVs.

Clips of VGGSound and AudioSet are found by name in a folder (searched recursively); a clip listed but not on
disk is skipped and counted in one warning per split (YouTube data is never complete).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from pathlib import Path
from typing import ClassVar

from aum.data import examples
from aum.data.examples import DataFormatError, Example
from aum.data.readers import LABEL_CSV_DOC, ROOT_DOC, split_file
from aum.data.source import DataConfig, data_format
from aum.schema import setting

log = logging.getLogger(__name__)

VOXCELEB_SPLITS = {"1": "train", "2": "val", "3": "test"}
YTID_LENGTH = 11


@data_format
@dataclasses.dataclass(kw_only=True)
class VoxCelebData(DataConfig):
    """VoxCeleb1 identification: `iden_split.txt` lines `<1|2|3> idXXXXX/<video>/<clip>.wav` (1 train, 2 val,
    3 test); the speaker is the first path part; labels = the sorted speakers of the whole file."""

    format: ClassVar[str] = "voxceleb"
    root: str = setting(doc=ROOT_DOC)
    split_file: str = setting("iden_split.txt", "the identification split list (relative to root)")
    audio_dir: str | None = setting(None, "folder of the clips (default: root/wav when it exists, else root)")

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_voxceleb(self, split)


def read_voxceleb(cfg: VoxCelebData, split: str) -> tuple[list[Example], list[str]]:
    root, audio_dir = Path(cfg.root), cfg.audio_dir
    split_path = examples.require_file(root / cfg.split_file, "VoxCeleb split file")
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


@data_format
@dataclasses.dataclass(kw_only=True)
class VggSoundData(DataConfig):
    """VGGSound: `vggsound.csv` without header (ytid, start_seconds, label, train|test); a clip is the file whose
    stem is `name_pattern` under `audio_dir`. VGGSound has no validation split: `val` reads the test rows."""

    format: ClassVar[str] = "vggsound"
    root: str = setting(doc=ROOT_DOC)
    csv_file: str = setting("vggsound.csv", "the clip list (relative to root)")
    audio_dir: str | None = setting(None, "folder of the clips, searched recursively (default: root)")
    name_pattern: str = setting("{ytid}_{start:06d}", "file stem of a clip, e.g. ---g-f_I2yQ_000001.flac")
    label_csv: str | None = setting(None, LABEL_CSV_DOC)

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_vggsound(self, split)


def read_vggsound(cfg: VggSoundData, split: str) -> tuple[list[Example], list[str]]:
    root, audio_dir, name_pattern, label_csv = Path(cfg.root), cfg.audio_dir, cfg.name_pattern, cfg.label_csv
    listing = examples.require_file(root / cfg.csv_file, "VGGSound csv")
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


@data_format
@dataclasses.dataclass(kw_only=True)
class AudioSetData(DataConfig):
    """AudioSet: a segment CSV per split (e.g. balanced_train_segments.csv) and a folder of clips found by YTID
    prefix; labels are the mids of `label_csv` (multi-label)."""

    format: ClassVar[str] = "audioset"
    root: str = setting(".", ROOT_DOC)
    train: str | None = setting(None, "segment csv of the training split (relative to root)")
    val: str | None = setting(None, "segment csv of the validation split")
    test: str | None = setting(None, "segment csv of the test split")
    audio_dir: str | None = setting(None, "folder of the clips, searched recursively (default: root)")
    label_csv: str = setting("class_labels_indices.csv", "the label list (index, mid, display_name)")

    def is_multilabel(self) -> bool:
        return True

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_audioset(self, split)


def read_audioset(cfg: AudioSetData, split: str) -> tuple[list[Example], list[str]]:
    root, audio_dir, label_csv = Path(cfg.root), cfg.audio_dir, cfg.label_csv
    listing = examples.require_file(root / split_file(cfg, split, "segment csv"), "AudioSet segment csv")
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
