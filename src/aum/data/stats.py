"""Dataset mean/std of the un-normalised fbank (the frontend's `mean`/`std`), from a data config, a folder or a
manifest; uses `aum.audio.dataset_stats`. Bad clips are skipped and counted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import yaml

from aum.audio import AudioError, Frontend, dataset_stats
from aum.data.build import read_examples
from aum.data.examples import is_audio
from aum.data.readers import NOISE_FOLDER
from aum.data.source import DataConfig, parse_data_config, resolve_data_paths
from aum.data.webdataset import load_clip
from aum.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def resolve_data_config(config_path: Path) -> DataConfig:
    """The `data:` section of a YAML config (or a bare data section), paths resolved against the file's folder."""
    cfg = yaml.safe_load(config_path.read_text()) or {}
    data = cfg.get("data", cfg)
    if not isinstance(data, dict) or "format" not in data:
        raise DataError(f"{config_path}: no data section with a 'format' key")
    try:
        return parse_data_config(resolve_data_paths(data, config_path.parent))
    except ConfigError as e:
        raise ConfigError(f"{config_path}: {e}") from None


def clip_paths(target: str | Path, split: str = "train") -> list[str]:
    """Audio paths of a YAML data config, an AST JSON manifest, or every audio file under a folder (Speech
    Commands' `_background_noise_` left out)."""
    target = Path(target)
    if target.is_dir():
        return [str(p) for p in sorted(target.rglob("*"))
                if p.is_file() and is_audio(p) and NOISE_FOLDER not in p.parts]
    if not target.is_file():
        raise FileNotFoundError(f"{target}: not found")
    if target.suffix == ".json":
        try:
            entries = json.loads(target.read_text())["data"]
            return [str(target.parent / e["wav"]) for e in entries]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"{target}: not an AST manifest ({e})") from None
    if target.suffix in (".yaml", ".yml"):
        examples, _, _ = read_examples(resolve_data_config(target), split)
        return [ex.path for ex in examples]
    raise DataError(f"{target}: expected a folder, a .json manifest or a .yaml data config")


def subsample(paths: list[str], max_clips: int | None, seed: int = 0) -> list[str]:
    if max_clips is None or len(paths) <= max_clips:
        return paths
    keep = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed))[:max_clips]
    return [paths[i] for i in sorted(keep.tolist())]


def feature_stats(paths: list[str], frontend: Frontend) -> dict:
    """{"mean", "std", "clips", "bad"} of `frontend.features` (padded / cut to target_frames, as AST did)."""
    bad = 0

    def features():
        nonlocal bad
        for path in paths:
            try:
                yield frontend.features(load_clip(path, frontend.sample_rate))
            except AudioError as e:
                bad += 1
                log.warning("bad clip skipped: %s", e)

    mean, std = dataset_stats(features())
    return {"mean": mean, "std": std, "clips": len(paths) - bad, "bad": bad}
