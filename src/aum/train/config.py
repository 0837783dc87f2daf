"""Training configuration: one dataclass tree, loaded from YAML, with `section.key=value` overrides.

Sections owned by the trainer (`frontend`, `optim`, `schedule`, `train`) are dataclasses and reject unknown keys.
Sections consumed by other modules (`model`, `data`, `augment`, `task`) stay plain dicts, checked when the recipe
is loaded against what their registered component accepts (`aum.train.components`): an unknown key anywhere is a
one-line ConfigError naming the section, the key, the closest valid key and the valid ones.

    cfg = load_config("configs/demo.yaml", ["optim.lr=1e-4", "train.epochs=3"])
    save_config(cfg, "runs/demo/config.yaml")
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from aum.errors import ConfigError
from aum.train.sections import _normalise_free, parse_scalar, section_from_dict  # noqa: F401  (re-exported)

__all__ = ["Config", "ConfigError", "load_config", "save_config"]



@dataclass
class FrontendConfig:
    """Audio frontend; `preset` picks the dataset normalisation statistics (REFERENCE §1) unless mean/std are set."""

    preset: str | None = "audioset"
    sample_rate: int = 16000
    num_mel_bins: int = 128
    target_frames: int = 1024
    mean: float | None = None
    std: float | None = None

    def __post_init__(self):
        if self.sample_rate <= 0:
            raise ConfigError(f"frontend.sample_rate={self.sample_rate}: must be a positive rate in Hz")
        if self.num_mel_bins < 3:
            raise ConfigError(f"frontend.num_mel_bins={self.num_mel_bins}: must be at least 3 (128 for the "
                              "published models)")
        if self.target_frames < 1:
            raise ConfigError(f"frontend.target_frames={self.target_frames}: must be a positive number of frames "
                              "(1024 = 10.24 s for AudioSet)")


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adamw
    lr: float = 1e-5
    betas: tuple[float, float] = (0.95, 0.999)
    weight_decay: float = 5e-7
    head_lr_mult: float = 1.0  # lr multiplier for parameters whose name starts with "head"
    grad_clip: float | None = None  # max global grad norm, None = off
    accum_steps: int = 1  # micro-batches per optimizer step


@dataclass
class ScheduleConfig:
    """Learning-rate schedule: linear warmup (in optimizer steps) then one of
    `multistep` (MultiStepLR(range(start, inf, step), decay) over epochs, as the AuM/AST recipes),
    `cosine` (to `min_lr_ratio` * lr at the last step), `plateau` (ReduceLROnPlateau on a validation metric),
    `constant`."""

    name: str = "multistep"
    warmup_steps: int = 1000
    start: int = 2
    step: int = 1
    decay: float = 0.5
    min_lr_ratio: float = 0.0
    plateau_metric: str | None = None  # default: the task's selection metric
    plateau_factor: float = 0.5
    plateau_patience: int = 2


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 12
    eval_batch_size: int | None = None
    num_workers: int = 2
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "auto"  # auto (bf16 on CUDA) | bf16 | off
    ema_decay: float = 0.0  # 0 = no EMA; else evaluate and select "best" with the EMA weights
    save_every_steps: int = 0  # also write "last" every N optimizer steps (0 = at epoch ends only)
    log_every_steps: int = 20
    eval_every_epochs: int = 1
    max_steps: int = 0  # stop after N optimizer steps (0 = no limit); for smoke tests
    train_split: str = "train"
    val_split: str = "validation"
    test_split: str | None = "test"  # evaluated with the best checkpoint at the end (None = skip)
    balanced_sampler: bool = False  # AudioSet-style class-balanced sampling with replacement
    max_bad_fraction: float = 0.5  # fail the run when more than this share of an epoch's clips is unreadable

    def __post_init__(self):
        for key in ("epochs", "batch_size", "eval_every_epochs"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key}={getattr(self, key)}: must be at least 1")
        for key in ("max_steps", "save_every_steps", "num_workers"):
            if getattr(self, key) < 0:
                raise ConfigError(f"train.{key}={getattr(self, key)}: must be 0 or more")
        if not 0.0 <= self.max_bad_fraction <= 1.0:
            raise ConfigError(f"train.max_bad_fraction={self.max_bad_fraction}: must be between 0 and 1")


@dataclass
class Config:
    model: dict = field(default_factory=lambda: {"name": "aum_tiny"})
    data: dict = field(default_factory=dict)
    augment: dict = field(default_factory=dict)
    task: dict = field(default_factory=dict)  # task.name defaults to "classification" (aum pretrain: "pretrain")
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def config_from_dict(raw: dict) -> Config:
    raw = raw or {}
    hints = typing.get_type_hints(Config)
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; known sections: {sorted(hints)}")
    kwargs = {}
    for name, value in raw.items():
        if dataclasses.is_dataclass(hints[name]):
            kwargs[name] = section_from_dict(hints[name], value or {}, name)
        else:
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{name}: expected a mapping, got {value!r}")
            kwargs[name] = _normalise_free(dict(value or {}))
    return Config(**kwargs)


def config_to_dict(cfg: Config) -> dict:
    def plain(v):
        if isinstance(v, tuple):
            return list(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=value` overrides to a raw (nested dict) config; values are YAML scalars or lists."""
    raw = dict(raw or {})
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=1e-4")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"override {item!r}: the key must be section.name, e.g. train.epochs=3")
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = parse_scalar(text)
    return raw


DATA_PATH_KEYS = ("root", "cache_dir", "noise_dir")


def resolve_data_paths(data_cfg: dict, base_dir: str | Path) -> dict:
    """Relative `root` / `cache_dir` / `noise_dir` in a YAML file are relative to the file's folder."""
    out = dict(data_cfg)
    for key in DATA_PATH_KEYS:
        if isinstance(out.get(key), str) and not Path(out[key]).is_absolute():
            out[key] = str((Path(base_dir) / out[key]).resolve())
    if isinstance(out.get("sources"), list):  # mixed unlabeled sources (pretraining): each has its own root
        out["sources"] = [resolve_data_paths(s, base_dir) if isinstance(s, dict) else s for s in out["sources"]]
    return out


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML recipe (or start from defaults when `path` is None) and apply dotted overrides.

    Relative data paths written in the file are resolved against the file's folder; paths given as overrides
    are taken as they are (relative to the working directory)."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: config file not found")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        if isinstance(raw.get("data"), dict):
            raw["data"] = resolve_data_paths(raw["data"], path.parent)
    try:
        cfg = config_from_dict(apply_overrides(raw, list(overrides)))
        from aum.train.components import check_components

        check_components(cfg)
        return cfg
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path is not None else str(e)) from None


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    from aum.train.run_folder import atomic_write_text

    raw = config_to_dict(cfg)
    # absolute data paths: the saved file is read later from another folder (`aum eval --checkpoint DIR`)
    raw["data"] = resolve_data_paths(raw.get("data") or {}, Path.cwd())
    atomic_write_text(Path(path), yaml.safe_dump(raw, sort_keys=False))
