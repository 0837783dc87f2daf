"""WebDataset tar shards (`key.flac` + `key.json`) read as a map-style dataset.

`read_webdataset` opens every shard of a split once and indexes its members with `tarfile` (where each clip's
bytes start and how many there are); an example's path is then a reference
`tar://<shard>#<member>@<offset>:<size>` and `load_member` reads those bytes with one seek and decodes them with
soundfile (`aum.audio.io.decode_audio`: mono, soxr resampling, the usual checks). A bad member raises `AudioError`
("<shard>#<member>: <reason>"), so `ClipDataset` skips and counts it like any other bad clip.

Shards must be uncompressed `.tar` files (a gzip-compressed shard cannot be read at an offset). A sample is the
members sharing a key (the member name up to the first dot of its base name, as in WebDataset): one audio member
(`.flac`, `.wav`, ...) and one `.json` whose label field is `labels` ("/m/a,/m/b" like the AST manifest, or a
list) or `label` (an int index into `label_csv`, or a name). Labels are looked up in `label_csv`
(`index,mid,display_name`) by mid or by display name.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import re
import tarfile
from pathlib import Path
from typing import ClassVar

import torch

from aum.audio import AudioError, load_audio
from aum.audio.io import DEFAULT_MAX_SECONDS, decode_audio
from aum.data.examples import AUDIO_SUFFIXES, DataFormatError, Example, read_label_csv, require_file
from aum.data.readers import ROOT_DOC, split_file
from aum.data.source import DataConfig, data_format
from aum.errors import DataError
from aum.schema import setting

log = logging.getLogger(__name__)

TAR_PREFIX = "tar://"
_BRACE = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"^(\d+)\.\.(\d+)$")
_AUDIO_EXTS = {s.lstrip(".") for s in AUDIO_SUFFIXES}


def expand_braces(pattern: str) -> list[str]:
    """'train-{000..002}.tar' -> ['train-000.tar', 'train-001.tar', 'train-002.tar'] (zero padding kept);
    '{a,b}' alternatives too; several braces expand left to right."""
    match = _BRACE.search(pattern)
    if match is None:
        return [pattern]
    body = match.group(1)
    rng = _RANGE.match(body)
    if rng:
        lo, hi = rng.group(1), rng.group(2)
        if int(hi) < int(lo):
            raise DataError(f"{pattern!r}: empty brace range {{{body}}}")
        width = len(lo) if lo.startswith("0") else 0
        choices = [str(i).zfill(width) for i in range(int(lo), int(hi) + 1)]
    elif "," in body:
        choices = body.split(",")
    else:
        raise DataError(f"{pattern!r}: brace {{{body}}} is neither a range 'a..b' nor a list 'a,b'")
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [out for choice in choices for out in expand_braces(head + choice + tail)]


def shard_paths(spec: str | list[str], root: str | Path = ".") -> list[Path]:
    """Shard files for `spec` (a pattern with brace ranges, a glob, or a list of those), relative to `root`;
    each must exist."""
    patterns = [spec] if isinstance(spec, str) else list(spec)
    paths: list[Path] = []
    for pattern in patterns:
        for name in expand_braces(str(pattern)):
            full = Path(root) / name
            if glob.has_magic(name):
                found = sorted(Path(p) for p in glob.glob(str(full)))
                if not found:
                    raise FileNotFoundError(f"{full}: no shard matches")
                paths.extend(found)
            else:
                paths.append(require_file(full, "webdataset shard"))
    return paths


def tar_reference(shard: str | Path, member: str, offset: int, size: int) -> str:
    return f"{TAR_PREFIX}{shard}#{member}@{offset}:{size}"


def parse_reference(ref: str) -> tuple[str, str, int, int]:
    """`tar://<shard>#<member>@<offset>:<size>` -> (shard, member, offset, size)."""
    body, _, span = ref[len(TAR_PREFIX):].rpartition("@")
    shard, _, member = body.rpartition("#")
    offset, _, size = span.partition(":")
    return shard, member, int(offset), int(size)


def load_clip(path: str, sample_rate: int = 16000, *, max_seconds: float = DEFAULT_MAX_SECONDS) -> torch.Tensor:
    """`load_audio` for a plain file or a `tar://` member reference; errors are `AudioError`."""
    if path.startswith(TAR_PREFIX):
        return load_member(path, sample_rate, max_seconds=max_seconds)
    return load_audio(path, sample_rate, max_seconds=max_seconds)


def load_member(ref: str, sample_rate: int = 16000, *, max_seconds: float = DEFAULT_MAX_SECONDS) -> torch.Tensor:
    """Mono waveform at `sample_rate` of the tar member `ref` (`tar://...`); errors are `AudioError` naming
    "<shard>#<member>"."""
    shard, member, offset, size = parse_reference(ref)
    name = f"{shard}#{member}"
    try:
        with open(shard, "rb") as f:
            f.seek(offset)
            data = f.read(size)
    except OSError as e:
        raise AudioError(name, f"cannot read the shard ({e.strerror or e})") from None
    if len(data) != size:
        raise AudioError(name, f"truncated shard: {len(data)} of {size} byte(s)")
    return decode_audio(data, name, sample_rate, max_seconds=max_seconds)


def _split_key(name: str) -> tuple[str, str]:
    """WebDataset convention: 'dir/abc.seg1.flac' -> ('dir/abc', 'seg1.flac')."""
    folder, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


def _json_labels(meta, where: str) -> list:
    if not isinstance(meta, dict) or ("labels" not in meta and "label" not in meta):
        raise DataFormatError(f"{where}: json has no 'labels' or 'label' field")
    value = meta["labels"] if "labels" in meta else meta["label"]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return value
    return [value]


def index_shard(shard: Path) -> list[tuple[str, str, int, int, list]]:
    """(key, audio member, offset, size, raw labels) per sample of one shard, in member order."""
    audio: dict[str, tuple[str, int, int]] = {}
    labels: dict[str, list] = {}
    try:
        with tarfile.open(shard, "r:") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                key, ext = _split_key(m.name)
                if ext in _AUDIO_EXTS:
                    if key in audio:
                        raise DataFormatError(f"{shard}#{m.name}: sample {key!r} has a second audio member")
                    if "#" in m.name:
                        raise DataFormatError(f"{shard}#{m.name}: '#' in a member name is not supported")
                    audio[key] = (m.name, m.offset_data, m.size)
                elif ext == "json":
                    try:
                        meta = json.loads(tar.extractfile(m).read().decode("utf-8"))
                    except (UnicodeDecodeError, json.JSONDecodeError) as e:
                        raise DataFormatError(f"{shard}#{m.name}: not valid json ({e})") from None
                    labels[key] = _json_labels(meta, f"{shard}#{m.name}")
    except tarfile.ReadError as e:
        raise DataFormatError(f"{shard}: not an uncompressed tar file ({e})") from None
    for key in sorted(audio.keys() - labels.keys()):
        raise DataFormatError(f"{shard}: sample {key!r} has audio but no .json")
    for key in sorted(labels.keys() - audio.keys()):
        raise DataFormatError(f"{shard}: sample {key!r} has a .json but no audio member")
    return [(key, *audio[key], labels[key]) for key in audio]


SHARDS_DOC = "uncompressed tar shards (relative to root): a brace pattern, a glob or a list"


@data_format
@dataclasses.dataclass(kw_only=True)
class WebDatasetData(DataConfig):
    """Tar shards per split (`train: "shards/train-{000000..000009}.tar"`, a glob or a list) with labels from
    `label_csv`: the csv's mids when `multilabel`, else its display names; with `multilabel: false` every sample
    must have exactly one label."""

    format: ClassVar[str] = "webdataset"
    root: str = setting(".", ROOT_DOC)
    train: str | list[str] | None = setting(None, f"training shards: {SHARDS_DOC}")
    val: str | list[str] | None = setting(None, "validation shards")
    test: str | list[str] | None = setting(None, "test shards")
    label_csv: str = setting(doc="the label list (index, mid, display_name) that fixes the label order")
    multilabel: bool = setting(True, "false: exactly one label per sample, labels = display names")

    def is_multilabel(self) -> bool:
        return self.multilabel

    def read(self, split: str) -> tuple[list[Example], list[str]]:
        return read_webdataset(self, split)


def read_webdataset(cfg: WebDatasetData, split: str) -> tuple[list[Example], list[str]]:
    spec, multilabel = split_file(cfg, split, "shards"), cfg.multilabel
    root, label_csv = cfg.root, Path(cfg.root) / cfg.label_csv
    mids, _, names = read_label_csv(label_csv)
    lookup = {n: i for i, n in enumerate(names)} | {m: i for i, m in enumerate(mids)}
    examples = []
    for shard in shard_paths(spec, root):
        for key, member, offset, size, raw in index_shard(shard):
            target = []
            for label in raw:
                if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(mids):
                    target.append(label)
                elif isinstance(label, str) and label in lookup:
                    target.append(lookup[label])
                else:
                    raise DataFormatError(f"{shard}#{key}: unknown label {label!r} (not in {label_csv})")
            if not multilabel and len(target) != 1:
                raise DataFormatError(f"{shard}#{key}: {len(target)} labels, multilabel is false")
            examples.append(Example(tar_reference(shard, member, offset, size), target))
    log.info("webdataset %s: %d samples", split, len(examples))
    return examples, (mids if multilabel else names)
