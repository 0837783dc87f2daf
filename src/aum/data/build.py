"""`build_dataset(data_cfg, split, frontend, augment_cfg)`: a YAML `data:` section -> ClipDataset.

YAML `data:` keys (paths are relative to `root`; the caller resolves `root` against the config file's folder):

    format: speechcommands   # speechcommands | esc50 | json | voxceleb | vggsound | audioset | folder | webdataset
                             # | unlabeled (pretraining; see unlabeled.py)
    root: data/speech_commands_v0.02
    label_csv: class_labels_indices.csv   # json/audioset: mids (json default: beside the manifest);
                                          # webdataset: required, labels by mid or display_name;
                                          # others, optional: fixes the label order by display_name
    train: train.json        # json: AST manifest per split; audioset: segment csv per split; webdataset:
                             # uncompressed tar shards ("shards/train-{000000..000009}.tar", a glob or a list),
                             # samples key.flac (or .wav, ...) + key.json {"labels": "/m/a,/m/b" | [...]} or
                             # {"label": int | name} (see webdataset.py)
    val: val.json
    test: eval.json
    fold: 1                  # esc50: evaluation fold (val and test = this fold, train = the other four)
    split_file: iden_split.txt           # voxceleb
    csv_file: vggsound.csv               # vggsound
    name_pattern: "{ytid}_{start:06d}"   # vggsound: clip file stem
    audio_dir: wav           # voxceleb/vggsound/audioset: folder holding the clips
    multilabel: true         # webdataset: false = exactly one label per sample, labels = display names
    val_fraction: 0.1        # folder: hash split when there are no train/val/test sub-folders
    test_fraction: 0.1
    cache_dir: null          # feature cache folder (un-augmented features only, see cache.py)
    noise_dir: null          # folder of noise files for the `noise` augmentation; speechcommands defaults to
                             # root/_background_noise_
    seed: 0                  # augmentation seed (make_loader sets it from the training seed)

Augmentations (`augment:` section, see augment.py) apply to the train split only.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

from aum.data.augment import AugmentConfig
from aum.data.dataset import ClipDataset
from aum.data.examples import audio_files, canonical_split
from aum.data.readers import noise_files, read_esc50, read_folder, read_json, read_speechcommands
from aum.data.readers_youtube import read_audioset, read_vggsound, read_voxceleb
from aum.data.unlabeled import unlabeled_examples
from aum.data.webdataset import read_webdataset
from aum.errors import DataError

log = logging.getLogger(__name__)


def read_unlabeled(split: str, *, sources: list | None = None, root: str | None = None, layout: str = "audio_tree",
                   val_fraction: float = 0.02):
    """`format: unlabeled` (pretraining): audio trees or labeled layouts with their labels dropped (see
    `aum.data.unlabeled`)."""
    return unlabeled_examples(split, read_examples, sources, root, layout, val_fraction)


READERS = {
    "speechcommands": read_speechcommands,
    "esc50": read_esc50,
    "json": read_json,
    "voxceleb": read_voxceleb,
    "vggsound": read_vggsound,
    "audioset": read_audioset,
    "folder": read_folder,
    "webdataset": read_webdataset,
    "unlabeled": read_unlabeled,
}
MULTILABEL = {"json", "audioset"}
DATASET_KEYS = {"format", "cache_dir", "noise_dir", "seed"}


def reader_options(data_cfg: dict) -> dict:
    """The reader's keyword options from a `data:` section; an unknown format or key is a ValueError naming the
    closest valid one."""
    from aum.errors import did_you_mean

    fmt = data_cfg.get("format")
    if fmt not in READERS:
        raise DataError(f"data.format must be one of {', '.join(READERS)}, got {fmt!r}"
                         f"{did_you_mean(str(fmt), READERS)}")
    accepted = set(inspect.signature(READERS[fmt]).parameters) - {"split"}
    unknown = sorted(set(data_cfg) - accepted - DATASET_KEYS)
    if unknown:
        raise DataError(f"data: key(s) {unknown} not used by format {fmt!r}"
                         f"{did_you_mean(unknown[0], accepted | DATASET_KEYS)}; it takes {sorted(accepted)}")
    return {k: v for k, v in data_cfg.items() if k in accepted}


def read_examples(data_cfg: dict, split: str):
    """(examples, labels, multilabel) for `split` of the dataset described by `data_cfg`."""
    fmt = data_cfg.get("format")
    options = reader_options(data_cfg)
    reader = READERS[fmt]
    examples, labels = reader(canonical_split(split), **options)
    if not examples:
        raise DataError(f"data ({fmt}, root {data_cfg.get('root')}): no clips found for split {split!r}")
    multilabel = bool(options.get("multilabel", True)) if fmt == "webdataset" else fmt in MULTILABEL
    return examples, labels, multilabel


def default_noise_files(data_cfg: dict) -> list[str]:
    if data_cfg.get("noise_dir"):
        return [str(p) for p in audio_files(Path(data_cfg["noise_dir"]))]
    if data_cfg.get("format") == "speechcommands":
        return noise_files(data_cfg["root"])
    return []


def build_dataset(data_cfg: dict, split: str, frontend, augment_cfg: dict | None = None) -> ClipDataset:
    """ClipDataset for `split` (train/val/test); `augment_cfg` is used for the train split only."""
    examples, labels, multilabel = read_examples(data_cfg, split)
    augment = None
    if augment_cfg and canonical_split(split) == "train":
        augment = AugmentConfig.from_dict(augment_cfg)
        if augment.noise > 0 and not augment.noise_files:
            augment.noise_files = default_noise_files(data_cfg)
    dataset = ClipDataset(examples, len(labels), frontend, multilabel, augment=augment,
                          cache_dir=data_cfg.get("cache_dir"), labels=labels, seed=int(data_cfg.get("seed", 0)))
    log.info("%s %s: %d clips, %d classes%s", data_cfg["format"], split, len(dataset), len(labels),
             " (multi-label)" if multilabel else "")
    return dataset
