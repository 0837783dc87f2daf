"""Optimiser (Adam/AdamW with a head learning-rate multiplier) and the learning-rate schedule.

`LRSchedule` sets `group["lr"] = group["base_lr"] * factor` after every optimizer step, where
`factor = warmup(step) * shape(step)` and `shape` is multistep / cosine / plateau / constant (ScheduleConfig).
Its whole state is a few numbers (`state_dict`), so a resumed run continues on the identical curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from aum.errors import ConfigError
from aum.schema import Section, setting

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
SCHEDULES = ("multistep", "cosine", "plateau", "constant")


@dataclass(kw_only=True)
class OptimConfig(Section):
    """`optim:` the optimizer."""

    section: ClassVar[str] = "optim"
    name: str = setting("adam", "optimizer", choices=tuple(OPTIMIZERS))
    lr: float = setting(1e-5, "peak learning rate (reached after the warmup)", low=0.0, open_low=True)
    betas: tuple[float, float] = setting((0.95, 0.999), "Adam betas", low=0.0, high=1.0, open_high=True)
    weight_decay: float = setting(5e-7, "weight decay of matrices and kernels (never of norms, biases, positions, "
                                  "special tokens, A_log, D)", low=0.0)
    head_lr_mult: float = setting(1.0, "learning-rate multiplier of the classifier head", low=0.0, open_low=True)
    layer_decay: float = setting(1.0, "layer-wise learning-rate decay: block i of n learns at lr x decay^(n + 1 - "
                                 "i), the embeddings at lr x decay^(n + 1), the head at lr; 1 = off", low=0.0,
                                 high=1.0, open_low=True)
    grad_clip: float | None = setting(None, "max global gradient norm; null = no clipping", low=0.0, open_low=True)
    accum_steps: int = setting(1, "micro-batches per optimizer step (gradient accumulation)", low=1)


@dataclass(kw_only=True)
class ScheduleConfig(Section):
    """`schedule:` linear warmup (in optimizer steps), then `multistep` (MultiStepLR(range(start, inf, step),
    decay) over epochs, as the AuM / AST recipes), `cosine` (to `min_lr_ratio` x lr at the last step), `plateau`
    (ReduceLROnPlateau on a validation metric) or `constant`."""

    section: ClassVar[str] = "schedule"
    name: str = setting("multistep", "learning-rate schedule after the warmup", choices=SCHEDULES)
    warmup_steps: int = setting(1000, "optimizer steps of linear warmup from 0 (0 = none)", low=0)
    start: int = setting(2, "multistep: the first epoch at which the rate decays", low=0)
    step: int = setting(1, "multistep: epochs between decays", low=1)
    decay: float = setting(0.5, "multistep: factor applied at each decay", low=0.0, high=1.0, open_low=True)
    min_lr_ratio: float = setting(0.0, "cosine: final rate as a fraction of lr", low=0.0, high=1.0)
    plateau_metric: str | None = setting(None, "plateau: the validation metric to watch (default: the task's "
                                         "selection metric)")
    plateau_factor: float = setting(0.5, "plateau: factor applied when the metric stops improving", low=0.0,
                                    high=1.0, open_low=True, open_high=True)
    plateau_patience: int = setting(2, "plateau: evaluations without improvement before the rate drops", low=0)


NO_DECAY_NAMES = ("pos_embed", "cls_token", "dist_token", "cls_token_head", "cls_token_tail", "mask_embed")


def decays(name: str, param: torch.nn.Parameter) -> bool:
    """Weight decay applies to matrices and kernels only, as in mamba_ssm, timm and nanoGPT: never to parameters
    marked `_no_weight_decay` (A_log, D), to vectors and scalars (norms, biases) or to positions and special tokens."""
    if getattr(param, "_no_weight_decay", False) or param.ndim <= 1:
        return False
    return not any(part in NO_DECAY_NAMES for part in name.split("."))


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Parameter groups: the classifier head (lr x head_lr_mult) and the rest (the encoder), each split into
    decayed and not-decayed parameters (`decays`) and, with `layer_decay` < 1, by depth (`model.layer_id`). The head
    is `model.classifier()` when the model has one (aum models: `head` or AST's `mlp_head`), else `head.*`. Encoder
    groups are marked `encoder` (see `LRSchedule.freeze_encoder`)."""
    if hasattr(model, "classifier"):
        head_ids = {id(p) for p in model.classifier().parameters()}
    else:
        head_ids = {id(p) for name, p in model.named_parameters() if name.split(".")[0] == "head"}
    layered = cfg.layer_decay < 1.0 and hasattr(model, "layer_id")
    top = model.config.depth + 1 if layered else 0
    buckets: dict[tuple[str, int, bool], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            part = "head" if id(p) in head_ids else "body"
            layer = model.layer_id(name) if layered and part == "body" else top
            buckets.setdefault((part, layer, decays(name, p)), []).append(p)
    groups = []
    for part, layer, decay in sorted(buckets, key=lambda k: (k[0] == "head", k[1], not k[2])):
        lr = cfg.lr * (cfg.head_lr_mult if part == "head" else cfg.layer_decay ** (top - layer))
        name = (part if decay else f"{part}_no_decay") + (f"_layer{layer}" if layered and part == "body" else "")
        groups.append({"params": buckets[(part, layer, decay)], "lr": lr, "base_lr": lr, "name": name,
                       "weight_decay": cfg.weight_decay if decay else 0.0, "encoder": part == "body"})
    return OPTIMIZERS[cfg.name](groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


class LRSchedule:
    """Warmup + schedule, stepped once per optimizer step; `on_metric` feeds the plateau schedule."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, steps_per_epoch: int,
                 total_steps: int, plateau_mode: str = "max"):
        if plateau_mode not in ("max", "min"):
            raise ConfigError(f"plateau mode {plateau_mode!r}: expected 'max' or 'min'")
        self.optimizer, self.cfg = optimizer, cfg
        self.steps_per_epoch, self.total_steps = max(1, steps_per_epoch), max(1, total_steps)
        self.plateau_mode = plateau_mode
        self.step_count = 0
        self.plateau_scale, self.plateau_best, self.plateau_bad = 1.0, None, 0
        self.encoder_frozen = False
        self._apply()

    @property
    def needs_metric(self) -> bool:
        return self.cfg.name == "plateau"

    def factor(self, step: int) -> float:
        cfg = self.cfg
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
        if cfg.name == "multistep":
            epochs_done = step // self.steps_per_epoch
            passed = 0 if epochs_done < cfg.start else (epochs_done - cfg.start) // max(1, cfg.step) + 1
            return warm * cfg.decay**passed
        if cfg.name == "cosine":
            span = max(1, self.total_steps - cfg.warmup_steps)
            progress = min(1.0, max(0.0, (step - cfg.warmup_steps) / span))
            return warm * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
        if cfg.name == "plateau":
            return warm * self.plateau_scale
        return warm

    def _apply(self) -> None:
        f = self.factor(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = 0.0 if self.encoder_frozen and group.get("encoder") else group["base_lr"] * f

    def freeze_encoder(self, frozen: bool) -> None:
        """Learning rate 0 for the encoder's groups while `frozen` (only the head learns: a linear-probe warm-up)."""
        if frozen != self.encoder_frozen:
            self.encoder_frozen = frozen
            self._apply()

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    def on_metric(self, value: float) -> None:
        """ReduceLROnPlateau: scale by `plateau_factor` after `plateau_patience` evaluations without improvement."""
        if not self.needs_metric or value is None or math.isnan(value):
            return
        better = self.plateau_best is None or (value > self.plateau_best if self.plateau_mode == "max"
                                               else value < self.plateau_best)
        if better:
            self.plateau_best, self.plateau_bad = value, 0
        else:
            self.plateau_bad += 1
            if self.plateau_bad > self.cfg.plateau_patience:
                self.plateau_scale *= self.cfg.plateau_factor
                self.plateau_bad = 0
        self._apply()

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "plateau_scale": self.plateau_scale,
                "plateau_best": self.plateau_best, "plateau_bad": self.plateau_bad}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self.plateau_scale = float(state["plateau_scale"])
        self.plateau_best = state["plateau_best"]
        self.plateau_bad = int(state["plateau_bad"])
        self._apply()
