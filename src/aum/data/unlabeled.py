"""Unlabeled audio for self-supervised pretraining: the `audio_tree` and `unlabeled` data formats.

A pretraining run's YAML `data:` section is an audio folder tree `root`, or several sources mixed under
`sources:`. A source is either `format: audio_tree` (every audio file under `root`, recursively; a stable hash
of the relative path puts `val_fraction` of the files in the validation split) or any labeled format of
`aum.data` (labels are discarded):

    data:
      format: unlabeled
      sources:
        - {format: audio_tree, root: /data/librispeech, val_fraction: 0.01}
        - {format: json, root: /data/audioset, train: unbal.json, val: eval.json, use_splits: [train]}
      cache_dir: null

A single source can also be written flat: `{format: unlabeled, root: DIR, layout: audio_tree | speechcommands |
...}`. `use_splits` (default `[train]`) names the splits of a labeled source that feed the pretraining train set; the
validation set is always the source's own validation split (masked accuracy there selects the best checkpoint and
drives ReduceLROnPlateau).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, ClassVar

from aum.data.examples import Example, canonical_split, is_audio, require_dir, stable_fraction
from aum.data.readers import ROOT_DOC
from aum.data.source import DATA_FORMATS, DataConfig, data_format, parse_data_config
from aum.errors import ConfigError, DataError
from aum.schema import setting

log = logging.getLogger(__name__)


@data_format
@dataclasses.dataclass(kw_only=True)
class AudioTreeData(DataConfig):
    """Every audio file under `root` (recursively, sorted), no labels; a stable hash of the relative path puts
    `val_fraction` of the files in the validation split."""

    format: ClassVar[str] = "audio_tree"
    root: str = setting(doc=ROOT_DOC)
    val_fraction: float = setting(0.02, "share of the files in the validation split", low=0.0, high=1.0)

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        root = require_dir(self.root, "audio")
        split = canonical_split(split)
        if split not in ("train", "val"):
            raise DataError(f"{root}: an audio_tree source has train and val splits only, not {split!r} "
                            "(set train.test_split=null for pretraining)")
        files = sorted(p for p in root.rglob("*") if p.is_file() and is_audio(p))
        chosen = [p for p in files if (stable_fraction(str(p.relative_to(root))) < self.val_fraction) == (
            split == "val")]
        return [Example(str(p), []) for p in chosen], []


@dataclasses.dataclass
class Source:
    """One source of the unlabeled mix: a data format, and the splits of it that feed the training set."""

    data: DataConfig
    use_splits: list[str] = dataclasses.field(default_factory=lambda: ["train"])

    def examples(self, split: str) -> list[Example]:
        splits = self.use_splits if canonical_split(split) == "train" else [split]
        found = []
        for name in splits:
            found += [Example(ex.path, []) for ex in self.data.read(name)[0]]  # labels discarded
        return found

    def to_dict(self) -> dict[str, Any]:
        return {**self.data.to_dict(), **({"use_splits": self.use_splits} if self.use_splits != ["train"] else {})}


def parse_source(raw: Any, where: str) -> Source:
    if isinstance(raw, Source):
        return raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with a format, got {raw!r}")
    raw = dict(raw)
    use_splits = raw.pop("use_splits", ["train"])
    if not isinstance(use_splits, list) or not all(isinstance(s, str) for s in use_splits):
        raise ConfigError(f"{where}.use_splits: expected a list of split names, got {use_splits!r}")
    if raw.get("format") == "unlabeled":
        raise ConfigError(f"{where}.format: a source cannot itself be 'unlabeled'")
    return Source(parse_data_config(raw, where), use_splits)


@data_format
@dataclasses.dataclass(kw_only=True)
class UnlabeledData(DataConfig):
    """Pretraining data: the mix of `sources`, or the one source at `root` read as `layout` (its train split,
    labels discarded); no labels (see the module docstring)."""

    format: ClassVar[str] = "unlabeled"
    root: str | None = setting(None, f"{ROOT_DOC}; or give `sources`")
    layout: str = setting("audio_tree", "the data format `root` is read as (audio_tree, speechcommands, ...)")
    val_fraction: float = setting(0.02, "audio_tree / folder layouts: share of the files in the validation split",
                                  low=0.0, high=1.0)
    sources: list[Any] | None = setting(None, "sources mixed in order: data sections (`format`, its keys, optional "
                                        "`use_splits`)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.sources is None) == (self.root is None):
            raise ConfigError("data (format unlabeled): give either `root` (+ `layout`) or `sources` (a list)")
        if self.layout not in DATA_FORMATS or self.layout == "unlabeled":
            raise ConfigError(f"data.layout={self.layout!r}: choose one of "
                              f"{', '.join(f for f in DATA_FORMATS if f != 'unlabeled')}")
        if self.sources is not None:
            if not isinstance(self.sources, list) or not self.sources:
                raise ConfigError("data.sources must be a non-empty list of data sources")
            self.sources = [parse_source(s, f"data.sources[{i}]") for i, s in enumerate(self.sources)]

    def mix(self) -> list[Source]:
        if self.sources is not None:
            return list(self.sources)
        flat: dict[str, Any] = {"format": self.layout, "root": self.root}
        if self.layout in ("audio_tree", "folder"):
            flat["val_fraction"] = self.val_fraction
        return [Source(parse_data_config(flat))]

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        examples: list[Example] = []
        for source in self.mix():
            found = source.examples(split)
            log.info("pretraining %s: %d clips from %s %s", split, len(found), source.data.format,
                     getattr(source.data, "root", ""))
            examples += found
        return examples, []

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in super().to_dict().items() if v is not None or k in ("cache_dir", "noise_dir")}
        if self.sources is not None:
            out["sources"] = [s.to_dict() for s in self.sources]
        return out

