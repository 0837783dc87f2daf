"""Tiny datasets in the on-disk layout of each `data.format`: a few short tones per class and split, under the file
names a recipe's `data:` section gives. `tiny_data(data_cfg, folder)` writes one and returns the section pointed at
it, so a recipe can be read through its normal reader (test_recipes_build, test_data_readers)."""

from __future__ import annotations

import json
from pathlib import Path

from aum.data import DataConfig, parse_data_config
from test_data_helpers import write_label_csv, write_tone
from test_train_fixtures import make_tone_dataset

SECONDS = 0.3  # long enough for a few fbank frames, short enough to write quickly
CLASSES = ("dog", "rain")
MIDS = ("/m/0bt9lr", "/m/06mb1")
SPLITS = ("train", "val", "test")


def make_speechcommands(root: Path, words=("yes", "no"), speakers=("aa", "bb", "cc"), seconds: float = 1.0,
                        **_) -> Path:
    """A folder per word, `aa` in train, `bb` in validation_list.txt, `cc` in testing_list.txt, and noise."""
    for w in words:
        for s in speakers:
            write_tone(root / w / f"{s}_nohash_0.wav", seconds=seconds)
    write_tone(root / "_background_noise_" / "white_noise.wav", seconds=2.0)
    (root / "validation_list.txt").write_text("".join(f"{w}/bb_nohash_0.wav\n" for w in words))
    (root / "testing_list.txt").write_text("".join(f"{w}/cc_nohash_0.wav\n" for w in words))
    return root


def make_esc50(root: Path, **_) -> Path:
    """`meta/esc50.csv` + `audio/`: one clip per category in each of the five folds."""
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for fold in range(1, 6):
        for target, category in enumerate(CLASSES):
            name = f"{fold}-{target}-A-0.wav"
            write_tone(root / "audio" / name, seconds=SECONDS)
            rows.append(f"{name},{fold},{target},{category},False,x,A")
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    return root


def make_json(root: Path, train: str | None = None, val: str | None = None, test: str | None = None,
              label_csv: str | None = None, **_) -> Path:
    """An AST manifest per named split (clips relative to it) and the label csv (default beside the manifests)."""
    manifests = [name for name in (train, val, test) if name]
    for name in manifests:
        entries = [{"wav": f"clips/{Path(name).stem}_{i}.wav", "labels": mid} for i, mid in enumerate(MIDS)]
        for entry in entries:
            write_tone((root / name).parent / entry["wav"], seconds=SECONDS)
        (root / name).write_text(json.dumps({"data": entries}))
    for csv_path in {root / label_csv} if label_csv else {(root / name).parent / "class_labels_indices.csv"
                                                          for name in manifests}:
        write_label_csv(csv_path, list(MIDS))
    return root


def youtube_clips(root: Path, audio_dir: str | None, splits, labels, stem) -> list[tuple[str, str, str]]:
    """A clip per split and label, named `stem(ytid)` in `audio_dir` (default root); returns (ytid, label, split)."""
    rows = []
    for s, split in enumerate(splits):
        for i, label in enumerate(labels):
            ytid = f"{s}{i}".ljust(11, "x")  # YouTube ids have 11 characters
            write_tone(root / (audio_dir or ".") / f"{stem(ytid)}.wav", seconds=SECONDS)
            rows.append((ytid, label, split))
    return rows


def make_audioset(root: Path, train: str | None = None, val: str | None = None, test: str | None = None,
                  audio_dir: str | None = None, label_csv: str = "class_labels_indices.csv", **_) -> Path:
    """A segment csv per named split and clips named `Y<ytid>_<start>_<end>` in `audio_dir`."""
    write_label_csv(root / label_csv, list(MIDS))
    listings = [name for name in (train, val, test) if name]
    rows = youtube_clips(root, audio_dir, listings, MIDS, lambda ytid: f"Y{ytid}_0.000_10.000")
    for name in listings:
        lines = [f'{ytid}, 0.000, 10.000, "{mid}"' for ytid, mid, listing in rows if listing == name]
        (root / name).write_text("# YTID, start_seconds, end_seconds, positive_labels\n" + "\n".join(lines) + "\n")
    return root


def make_voxceleb(root: Path, split_file: str = "iden_split.txt", audio_dir: str | None = None, **_) -> Path:
    """`iden_split.txt` (`<1|2|3> idXXXXX/video/clip.wav`): one clip per speaker and split."""
    lines = []
    for split_code in ("1", "2", "3"):
        for speaker in ("id10001", "id10002"):
            rel = f"{speaker}/video{split_code}/00001.wav"
            write_tone(root / (audio_dir or "wav") / rel, seconds=SECONDS)
            lines.append(f"{split_code} {rel}")
    (root / split_file).write_text("\n".join(lines) + "\n")
    return root


def make_vggsound(root: Path, csv_file: str = "vggsound.csv", audio_dir: str | None = None,
                  name_pattern: str = "{ytid}_{start:06d}", **_) -> Path:
    """The headerless `vggsound.csv` (ytid, start, label, train|test) and its clips in `audio_dir`."""
    rows = youtube_clips(root, audio_dir, ("train", "test"), CLASSES, lambda ytid: name_pattern.format(ytid=ytid,
                                                                                                      start=30))
    (root / csv_file).write_text("".join(f"{ytid},30,{label},{split}\n" for ytid, label, split in rows))
    return root


def make_folder(root: Path, **_) -> Path:
    """A folder per class inside train/val/test sub-folders."""
    return make_tone_dataset(root, {split: 1 for split in SPLITS}, seconds=SECONDS)


def make_audio_tree(root: Path, **_) -> Path:
    """Audio files in nested folders, enough that a hash split at a small val_fraction keeps train clips."""
    for i in range(4):
        write_tone(root / f"speaker{i % 2}" / f"clip{i}.wav", freq=200.0 + 100 * i, seconds=SECONDS)
    return root


MAKERS = {"speechcommands": make_speechcommands, "esc50": make_esc50, "json": make_json, "voxceleb": make_voxceleb,
          "vggsound": make_vggsound, "audioset": make_audioset, "folder": make_folder, "audio_tree": make_audio_tree}


def tiny_data(data: DataConfig, folder: Path) -> DataConfig:
    """`data` with its `root` (each source's, for `format: unlabeled`) replaced by a tiny generated tree in the
    same layout and file names; the feature cache is off."""
    data_cfg = data.to_dict()
    if data_cfg["format"] == "unlabeled" and "sources" in data_cfg:
        sources = [write_layout(source, folder / f"source{i}") for i, source in enumerate(data_cfg["sources"])]
        return parse_data_config({**data_cfg, "sources": sources, "cache_dir": None})
    return parse_data_config({**write_layout(data_cfg, folder), "cache_dir": None})


def write_layout(data_cfg: dict, folder: Path) -> dict:
    layout = data_cfg.get("layout", "audio_tree") if data_cfg["format"] == "unlabeled" else data_cfg["format"]
    MAKERS[layout](folder, **{k: v for k, v in data_cfg.items() if k not in ("format", "root", "use_splits")})
    return {**data_cfg, "root": str(folder)}
