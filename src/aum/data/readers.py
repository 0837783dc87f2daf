"""Data formats of local layouts: AST JSON manifest, ESC-50, Speech Commands v2 and a plain folder-per-class.

Each format is a config dataclass (`aum.data.source.DataConfig`: its YAML keys) whose `read(split)` returns
`(examples, labels)` (see `examples.py`); `split` is train / val / test. The YouTube-sourced layouts (VoxCeleb1,
VGGSound, AudioSet) are in `readers_youtube.py`, WebDataset shards in `webdataset.py`.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from pathlib import Path
from typing import ClassVar

from aum.data.examples import (
    DataFormatError,
    Example,
    audio_files,
    canonical_split,
    index_targets,
    is_audio,
    label_order,
    read_label_csv,
    require_dir,
    require_file,
    stable_fraction,
)
from aum.data.source import DataConfig, data_format
from aum.errors import DataError
from aum.schema import setting

log = logging.getLogger(__name__)

NOISE_FOLDER = "_background_noise_"
ESC50_FOLDS = (1, 2, 3, 4, 5)
ROOT_DOC = "the dataset folder (relative to the recipe's folder in a YAML file)"
LABEL_CSV_DOC = "optional csv (index, mid, display_name) that fixes the label order by display name"


def split_file(cfg: DataConfig, split: str, what: str) -> str:
    """The file (or shards) a format lists for `split` in its `train` / `val` / `test` keys."""
    split = canonical_split(split)
    listed = getattr(cfg, split)
    if listed is None:
        raise DataError(f"{cfg.format} data: no {what} given for split {split!r} (set data.{split})")
    return listed


@data_format
@dataclasses.dataclass(kw_only=True)
class JsonData(DataConfig):
    """AST manifests `{"data": [{"wav": path, "labels": "/m/a,/m/b"}]}` per split (multi-label); relative wav paths
    are relative to the manifest."""

    format: ClassVar[str] = "json"
    root: str = setting(".", ROOT_DOC)
    train: str | None = setting(None, "manifest of the training split (relative to root)")
    val: str | None = setting(None, "manifest of the validation split")
    test: str | None = setting(None, "manifest of the test split")
    label_csv: str | None = setting(None, "class_labels_indices.csv (index, mid, display_name); default: beside "
                                    "the manifest")

    def is_multilabel(self) -> bool:
        return True

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_json(self, split)


def read_json(cfg: JsonData, split: str) -> tuple[list[Example], list[str]]:
    manifest = require_file(Path(cfg.root) / split_file(cfg, split, "manifest"), "json manifest")
    label_csv = Path(cfg.root) / cfg.label_csv if cfg.label_csv else manifest.parent / "class_labels_indices.csv"
    mids, mid_index, _ = read_label_csv(label_csv)
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataFormatError(f"{manifest}: not an AST manifest {{'data': [...]}} ({e})") from None
    examples = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "wav" not in entry or "labels" not in entry:
            raise DataFormatError(f"{manifest}: entry {i} lacks 'wav' or 'labels'")
        target = []
        for mid in (m.strip() for m in str(entry["labels"]).split(",") if m.strip()):
            if mid not in mid_index:
                raise DataFormatError(f"{manifest}: unknown label {mid!r} (not in {label_csv})")
            target.append(mid_index[mid])
        examples.append(Example(str(manifest.parent / entry["wav"]), target))
    return examples, mids


@data_format
@dataclasses.dataclass(kw_only=True)
class Esc50Data(DataConfig):
    """ESC-50: `meta/esc50.csv` + `audio/`. val / test = the clips of `fold`, train = the four other folds."""

    format: ClassVar[str] = "esc50"
    root: str = setting(doc=ROOT_DOC)
    fold: int = setting(1, "the evaluation fold (val and test); train = the other four", choices=ESC50_FOLDS)
    label_csv: str | None = setting(None, LABEL_CSV_DOC)

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_esc50(self, split)


def read_esc50(cfg: Esc50Data, split: str) -> tuple[list[Example], list[str]]:
    root, fold, label_csv = Path(cfg.root), cfg.fold, cfg.label_csv
    meta = require_file(root / "meta" / "esc50.csv", "ESC-50 meta csv")
    with open(meta, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"filename", "fold", "target", "category"} <= set(rows[0]):
        raise DataFormatError(f"{meta}: expected columns filename,fold,target,category")
    categories = {int(r["target"]): r["category"] for r in rows}
    labels = [categories[i] for i in sorted(categories)] if label_csv is None else label_order(
        list(categories.values()), root / label_csv)
    want_eval = canonical_split(split) != "train"
    chosen = [r for r in rows if (int(r["fold"]) == int(fold)) == want_eval]
    targets = index_targets([r["category"] for r in chosen], labels, meta)
    return [Example(str(root / "audio" / r["filename"]), t) for r, t in zip(chosen, targets)], labels


def esc50_cross_validation(cfg: Esc50Data) -> list[Esc50Data]:
    """The five leave-one-fold-out configs of ESC-50: copies of `cfg` with `fold` = 1..5."""
    return [dataclasses.replace(cfg, fold=fold) for fold in ESC50_FOLDS]


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        log.warning("%s: split list not found; treating it as empty", path)
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


@data_format
@dataclasses.dataclass(kw_only=True)
class SpeechCommandsData(DataConfig):
    """Speech Commands v2: a folder per word, `validation_list.txt` / `testing_list.txt` (`word/x_nohash_n.wav`),
    train = every other clip. Works for any word set; `_background_noise_` is not a class: it is the default noise
    of `augment.noise`."""

    format: ClassVar[str] = "speechcommands"
    root: str = setting(doc=ROOT_DOC)
    label_csv: str | None = setting(None, LABEL_CSV_DOC)

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_speechcommands(self, split)

    def noise_files(self) -> list[str]:
        return super().noise_files() or noise_files(self.root)


def read_speechcommands(cfg: SpeechCommandsData, split: str) -> tuple[list[Example], list[str]]:
    root, label_csv = require_dir(cfg.root, "Speech Commands"), cfg.label_csv
    words = sorted(d.name for d in root.iterdir() if d.is_dir() and d.name != NOISE_FOLDER
                   and not d.name.startswith((".", "_")))
    if not words:
        raise DataFormatError(f"{root}: no word folders found (expected the Speech Commands layout)")
    lists = {"val": _read_list(root / "validation_list.txt"), "test": _read_list(root / "testing_list.txt")}
    split = canonical_split(split)
    relpaths = [f"{w}/{p.name}" for w in words for p in audio_files(root / w)]
    if split == "train":
        chosen = [p for p in relpaths if p not in lists["val"] and p not in lists["test"]]
    else:
        chosen = [p for p in relpaths if p in lists[split]]
    labels = label_order(words, root / label_csv if label_csv else None)
    targets = index_targets([p.split("/")[0] for p in chosen], labels, root)
    return [Example(str(root / p), t) for p, t in zip(chosen, targets)], labels


def noise_files(root: str | Path) -> list[str]:
    """Audio files of a Speech Commands `_background_noise_` folder (empty when there is none)."""
    folder = Path(root) / NOISE_FOLDER
    return [str(p) for p in audio_files(folder)] if folder.is_dir() else []


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))


def _split_folder(root: Path, split: str) -> Path | None:
    names = {"train": ("train", "training"), "val": ("val", "valid", "validation"), "test": ("test", "testing")}
    return next((root / n for n in names[split] if (root / n).is_dir()), None)


@data_format
@dataclasses.dataclass(kw_only=True)
class FolderData(DataConfig):
    """A folder per class (`root/<class>/**/*.wav`). With `root/train`, `root/val`, `root/test` present those are
    the splits; otherwise a stable hash of `class/file` assigns `val_fraction` / `test_fraction` of the clips."""

    format: ClassVar[str] = "folder"
    root: str = setting(doc=ROOT_DOC)
    val_fraction: float = setting(0.1, "share of the clips in the validation split (no split folders)", low=0.0,
                                  high=1.0)
    test_fraction: float = setting(0.1, "share of the clips in the test split (no split folders)", low=0.0,
                                   high=1.0)
    label_csv: str | None = setting(None, LABEL_CSV_DOC)

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_folder(self, split)


def read_folder(cfg: FolderData, split: str) -> tuple[list[Example], list[str]]:
    root, label_csv = require_dir(cfg.root, "dataset"), cfg.label_csv
    val_fraction, test_fraction = cfg.val_fraction, cfg.test_fraction
    split = canonical_split(split)
    has_split_folders = _split_folder(root, "train") is not None
    base = _split_folder(root, split) if has_split_folders else root
    if base is None:
        raise FileNotFoundError(f"{root}: no folder for split {split!r}")
    all_classes = [d.name for d in _class_dirs(_split_folder(root, "train") if has_split_folders else root)]
    pairs = [(d.name, p) for d in _class_dirs(base) for p in sorted(d.rglob("*")) if p.is_file() and is_audio(p)]
    if not has_split_folders:
        pairs = [(c, p) for c, p in pairs if _hash_split(f"{c}/{p.name}", val_fraction, test_fraction) == split]
    labels = label_order(all_classes + [c for c, _ in pairs], root / label_csv if label_csv else None)
    targets = index_targets([c for c, _ in pairs], labels, root)
    return [Example(str(p), t) for (_, p), t in zip(pairs, targets)], labels


def _hash_split(key: str, val_fraction: float, test_fraction: float) -> str:
    u = stable_fraction(key)
    return "val" if u < val_fraction else "test" if u < val_fraction + test_fraction else "train"
