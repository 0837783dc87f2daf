"""From a typed `data:` section to datasets: `read_examples`, `build_dataset`, and `SplitIndex` (each split of a
run read once).

    data = parse_data_config({"format": "speechcommands", "root": "data/speech_commands_v0.02"})
    train = build_dataset(data, "train", frontend, augment=AugmentConfig(freqm=24), seed=0)

The formats (`DATA_FORMATS`, keys in `docs/CONFIG.md`): speechcommands, esc50, json, voxceleb, vggsound, audioset,
folder, webdataset (`readers.py`, `readers_youtube.py`, `webdataset.py`), and for pretraining audio_tree and
unlabeled (`unlabeled.py`). Augmentations (`augment:` section, see augment.py) apply to the train split only.
"""

from __future__ import annotations

import dataclasses
import logging

from aum.audio import Frontend
from aum.data import readers, readers_youtube, unlabeled, webdataset  # noqa: F401  (register the formats)
from aum.data.augment import AugmentConfig
from aum.data.dataset import ClipDataset
from aum.data.examples import Example, canonical_split
from aum.data.source import DATA_FORMATS, DataConfig, parse_data_config
from aum.errors import DataError

__all__ = ["DATA_FORMATS", "SplitIndex", "build_dataset", "parse_data_config", "read_examples"]

log = logging.getLogger(__name__)

Split = tuple[list[Example], list[str], bool]  # examples, labels, multilabel


def read_examples(data: DataConfig, split: str) -> Split:
    """(examples, labels, multilabel) of `split` of the dataset `data` describes; no clip is an error."""
    examples, labels = data.read(canonical_split(split))
    if not examples:
        raise DataError(f"data ({data.format}, root {getattr(data, 'root', None)}): no clips found for split "
                        f"{split!r}")
    return examples, labels, data.is_multilabel()


def dataset_of(data: DataConfig, split: str, found: Split, frontend: Frontend,
               augment: AugmentConfig | None = None, seed: int = 0) -> ClipDataset:
    """The ClipDataset of an already read split; `augment` is used for the train split only (its noise clips
    default to the format's own, e.g. Speech Commands' `_background_noise_`)."""
    examples, labels, multilabel = found
    if augment is not None and canonical_split(split) == "train":
        if augment.noise > 0 and not augment.noise_files:
            augment = dataclasses.replace(augment, noise_files=data.noise_files())
    else:
        augment = None
    dataset = ClipDataset(examples, len(labels), frontend, multilabel, augment=augment, cache_dir=data.cache_dir,
                          labels=labels, seed=seed)
    log.info("%s %s: %d clips, %d classes%s", data.format, split, len(dataset), len(labels),
             " (multi-label)" if multilabel else "")
    return dataset


def build_dataset(data: DataConfig, split: str, frontend: Frontend, augment: AugmentConfig | None = None,
                  seed: int = 0) -> ClipDataset:
    """ClipDataset for `split` (train / val / test); `augment` is used for the train split only."""
    return dataset_of(data, split, read_examples(data, split), frontend, augment, seed)


class SplitIndex:
    """The splits of one dataset, each read (indexed) at most once: a run asks for its training, validation and
    test splits, and the overlap check for the same ones again."""

    def __init__(self, data: DataConfig):
        self.data = data
        self._read: dict[str, Split] = {}

    def examples(self, split: str) -> Split:
        key = canonical_split(split)
        if key not in self._read:
            self._read[key] = read_examples(self.data, split)
        return self._read[key]

    def dataset(self, split: str, frontend: Frontend, augment: AugmentConfig | None = None,
                seed: int = 0) -> ClipDataset:
        return dataset_of(self.data, split, self.examples(split), frontend, augment, seed)
