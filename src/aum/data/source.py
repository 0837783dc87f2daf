"""`DataConfig`: the base of every data format's `data:` section, and the registry of formats.

A data format is a config dataclass that declares its YAML name (`format`), its keys (fields made with
`aum.schema.setting`) and how it reads a split:

    @data_format
    @dataclass(kw_only=True)
    class SpeechCommandsData(DataConfig):
        format: ClassVar[str] = "speechcommands"
        root: str = setting(doc="the dataset folder")

        def read(self, split: str) -> tuple[list[Example], list[str]]: ...

`parse_data_config({"format": "speechcommands", "root": "..."})` returns the typed config; an unknown format or
key is one ConfigError line naming the closest valid one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from aum.data.examples import Example, audio_files
from aum.errors import ConfigError, did_you_mean
from aum.schema import Section, parse_section, setting

DATA_FORMATS: dict[str, type[DataConfig]] = {}


@dataclasses.dataclass(kw_only=True)
class DataConfig(Section):
    """Keys every format has; a format adds its own and implements `read`."""

    section: ClassVar[str] = "data"
    format: ClassVar[str] = ""
    cache_dir: str | None = setting(None, "feature cache folder (un-augmented features only)")
    noise_dir: str | None = setting(None, "folder of noise clips for `augment.noise`")

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        """(examples, labels) of `split` (train / val / test and their aliases)."""
        raise NotImplementedError

    def is_multilabel(self) -> bool:
        """Whether a clip may carry several labels (then BCE and mAP, else one label per clip)."""
        return False

    def noise_files(self) -> list[str]:
        """The noise clips of `augment.noise` when the recipe lists none: the files under `noise_dir`."""
        return [str(p) for p in audio_files(Path(self.noise_dir))] if self.noise_dir else []

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, **super().to_dict()}


D = TypeVar("D", bound=type[DataConfig])


def data_format(cls: D) -> D:
    """Class decorator: register a data format under its `format` name."""
    if cls.format in DATA_FORMATS:
        raise ConfigError(f"data format {cls.format!r} is already registered")
    DATA_FORMATS[cls.format] = cls
    return cls


def parse_data_config(values: Any, where: str = "data") -> DataConfig:
    """The typed config of a `data:` mapping (its `format` picks the class)."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping with a format, got {values!r}")
    values = dict(values)
    fmt = values.pop("format", None)
    if fmt not in DATA_FORMATS:
        raise ConfigError(f"{where}.format={fmt!r}: choose one of {', '.join(DATA_FORMATS)}"
                          f"{did_you_mean(str(fmt), DATA_FORMATS)}")
    return parse_section(DATA_FORMATS[fmt], values, where, consumed=("format",))


PATH_KEYS = ("root", "cache_dir", "noise_dir")


def resolve_data_paths(values: dict[str, Any], base_dir: str | Path) -> dict[str, Any]:
    """A raw `data:` mapping with its relative `root` / `cache_dir` / `noise_dir` (and those of each of its
    `sources`) made absolute against `base_dir` (a YAML file's folder)."""
    out = dict(values)
    for key in PATH_KEYS:
        if isinstance(out.get(key), str) and not Path(out[key]).is_absolute():
            out[key] = str((Path(base_dir) / out[key]).resolve())
    if isinstance(out.get("sources"), list):  # mixed unlabeled sources (pretraining): each has its own root
        out["sources"] = [resolve_data_paths(s, base_dir) if isinstance(s, dict) else s for s in out["sources"]]
    return out
