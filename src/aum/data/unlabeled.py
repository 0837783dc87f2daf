"""Unlabeled audio for self-supervised pretraining: the `data.format: unlabeled` reader (`aum.data.READERS`).

A pretraining run's YAML `data:` section is an audio folder tree `root`, or several sources mixed under
`sources:`. A source is either `format: audio_tree` (every audio file under `root`, recursively; a stable hash
of the relative path puts `val_fraction` of the files in the validation split) or any labeled layout of
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

import logging
from collections.abc import Callable
from pathlib import Path

from aum.data.examples import Example, canonical_split, is_audio, require_dir, stable_fraction
from aum.errors import DataError

log = logging.getLogger(__name__)


def read_audio_tree(split: str, root: str | Path, val_fraction: float = 0.02) -> list[Example]:
    """Every audio file under `root` (recursively, sorted); a stable hash of the relative path picks the split."""
    root = require_dir(root, "audio")
    split = canonical_split(split)
    if split not in ("train", "val"):
        raise DataError(f"{root}: an audio_tree source has train and val splits only, not {split!r} "
                         "(set train.test_split=null for pretraining)")
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_audio(p))
    chosen = [p for p in files if (stable_fraction(str(p.relative_to(root))) < val_fraction) == (split == "val")]
    return [Example(str(p), []) for p in chosen]


def _source_examples(source: dict, split: str, read_labeled: Callable) -> list[Example]:
    source = dict(source)
    if source.get("format") == "audio_tree":
        unknown = set(source) - {"format", "root", "val_fraction"}
        if unknown:
            raise DataError(f"data source audio_tree: unknown key(s) {sorted(unknown)}; it takes root, val_fraction")
        return read_audio_tree(split, source["root"], float(source.get("val_fraction", 0.02)))
    use_splits = source.pop("use_splits", ["train"])
    splits = use_splits if canonical_split(split) == "train" else [split]
    examples = []
    for name in splits:
        found, _labels, _multilabel = read_labeled(source, name)
        examples += [Example(ex.path, []) for ex in found]  # labels discarded
    return examples


def unlabeled_examples(split: str, read_labeled: Callable, sources: list | None = None, root: str | None = None,
                       layout: str = "audio_tree", val_fraction: float = 0.02) -> tuple[list[Example], list[str]]:
    """Label-free examples of `split` from the mix of `sources` (order kept), or
    from the one source at `root` in `layout` (an audio tree, or e.g. `speechcommands`: its train split, labels
    discarded). `read_labeled(source, split)` reads a labeled source (`aum.data.build.read_examples`). Returns
    (examples, no labels)."""
    if (sources is None) == (root is None):
        raise DataError("data (format unlabeled): give either `root` (+ `layout`) or `sources` (a list)")
    if sources is None:
        sources = [{"format": layout, "root": root}]
        if layout in ("audio_tree", "folder"):
            sources[0]["val_fraction"] = val_fraction
    if not isinstance(sources, list) or not sources:
        raise DataError("data.sources must be a non-empty list of data sources")
    examples: list[Example] = []
    for source in sources:
        found = _source_examples(source, split, read_labeled)
        log.info("pretraining %s: %d clips from %s %s", split, len(found), source.get("format"), source.get("root"))
        examples += found
    return examples, []

