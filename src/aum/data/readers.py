"""Readers for local layouts: AST JSON manifest, ESC-50, Speech Commands v2 and a plain folder-per-class.

Each reader is `read_<format>(split, *, root, ...) -> (examples, labels)` (see `examples.py`); `split` is
train / val / test. The YouTube-sourced layouts (VoxCeleb1, VGGSound, AudioSet) are in `readers_youtube.py`.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

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
from aum.errors import DataError

log = logging.getLogger(__name__)

NOISE_FOLDER = "_background_noise_"
ESC50_FOLDS = (1, 2, 3, 4, 5)


def read_json(split: str, *, root: str | Path = ".", train: str | None = None, val: str | None = None,
              test: str | None = None, label_csv: str | None = None) -> tuple[list[Example], list[str]]:
    """AST manifest `{"data": [{"wav": path, "labels": "/m/a,/m/b"}]}` per split (multi-label). `label_csv`
    defaults to `class_labels_indices.csv` beside the manifest; relative wav paths are relative to the manifest."""
    manifest = {"train": train, "val": val, "test": test}[canonical_split(split)]
    if manifest is None:
        raise DataError(f"json data: no manifest given for split {split!r} (set data.{canonical_split(split)})")
    manifest = require_file(Path(root) / manifest, "json manifest")
    label_csv = Path(root) / label_csv if label_csv else manifest.parent / "class_labels_indices.csv"
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


def read_esc50(split: str, *, root: str | Path, fold: int = 1,
               label_csv: str | None = None) -> tuple[list[Example], list[str]]:
    """ESC-50: `meta/esc50.csv` + `audio/`. val/test = clips of `fold`, train = the four other folds."""
    root = Path(root)
    meta = require_file(root / "meta" / "esc50.csv", "ESC-50 meta csv")
    if int(fold) not in ESC50_FOLDS:
        raise DataError(f"esc50: fold must be one of {ESC50_FOLDS}, got {fold}")
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


def esc50_cross_validation(data_cfg: dict) -> list[dict]:
    """The five leave-one-fold-out configs of ESC-50: `data_cfg` copies with `fold` = 1..5."""
    return [{**data_cfg, "fold": fold} for fold in ESC50_FOLDS]


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        log.warning("%s: split list not found; treating it as empty", path)
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def read_speechcommands(split: str, *, root: str | Path,
                        label_csv: str | None = None) -> tuple[list[Example], list[str]]:
    """Speech Commands v2: a folder per word, `validation_list.txt` / `testing_list.txt` (`word/x_nohash_n.wav`),
    train = every other clip. Works for any word set; `_background_noise_` is not a class (see `noise_files`)."""
    root = require_dir(root, "Speech Commands")
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


def read_folder(split: str, *, root: str | Path, val_fraction: float = 0.1, test_fraction: float = 0.1,
                label_csv: str | None = None) -> tuple[list[Example], list[str]]:
    """Folder per class (`root/<class>/**/*.wav`). With `root/train`, `root/val`, `root/test` present those are
    the splits; otherwise a stable hash of `class/file` assigns `val_fraction` / `test_fraction` of the clips."""
    root = require_dir(root, "dataset")
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
