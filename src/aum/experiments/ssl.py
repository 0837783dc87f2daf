"""Does masked patch pretraining help? The low-label experiment behind `aum demo ssl`, as library functions.

For each encoder (SSAMBA, SSAST, AuM with the CLS token in the middle): pretrain once on the unlabeled corpus
(InfoNCE + 10 x MSE, two passes, cluster masking), then for every seed fine-tune from the pretrained weights and
from random init with the same recipe, budget and seed on the few labeled voices, and fit a logistic-regression
probe on frozen mean-pooled embeddings of the pretrained and of a random-init encoder. Accuracies are on the test
voices (never in the labeled set; the built-in corpus excludes them too).

Pretraining runs once per encoder and is reused across the fine-tuning seeds (the budget of a 2-core CPU), so
the pretrained probe is the same for every seed; the random-init probe and both fine-tunings vary with the seed.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from aum.audio import Frontend
from aum.data import build_dataset
from aum.data.stats import clip_paths, feature_stats, subsample
from aum.errors import ConfigError
from aum.experiments.probe import clip_embeddings, probe_accuracy
from aum.models import AudioModel
from aum.train import Config, run_training
from aum.train.config import apply_overrides, config_from_dict

log = logging.getLogger(__name__)

ENCODERS = {"ssamba": "ssamba_tiny", "ssast": "ssast_tiny", "aum": "aum_tiny"}  # aum: CLS in the middle
# At the demo's depth 2, SSAMBA's flipped layer pair is one layer deep (both layers read the same input side by
# side); unpaired, its two Bi-Bi layers run one after the other, as AuM's two layers do (BENCHMARKS.md).
ENCODER_OVERRIDES = {"ssamba": {"paired_layers": False}}


@dataclass
class SSLRecipe:
    """The demo's budget. Depth and input size are reduced from the papers' (24 layers, 10 s clips) for a CPU."""

    depth: int = 2
    mel_bins: int = 64
    frames: int = 96  # 0.96 s: a 4 x 6 grid of 16 x 16 patches
    mask_size: int = 18  # 75 % of the 24 patches (the papers: 400 of 512 = 78 %)
    pretrain_epochs: int = 4
    pretrain_lr: float = 1e-3
    pretrain_batch: int = 8  # more optimizer steps per clip: the encoder learns more within the budget
    finetune_epochs: int = 20
    finetune_lr: float = 1e-3
    finetune_batch: int = 16
    # How a pretrained encoder is fine-tuned (from scratch these do not apply: a random encoder has nothing to keep,
    # and freezing or slowing it only handicaps the baseline): optim.layer_decay, optim.head_lr_mult,
    # train.freeze_encoder_epochs (a linear-probe warm-up), train.early_stop_patience.
    finetune_layer_decay: float = 1.0
    finetune_head_lr_mult: float = 1.0
    finetune_freeze_epochs: int = 0
    finetune_patience: int = 0
    probe_l2: float = 1e-2
    seeds: tuple[int, ...] = (0, 1, 2)
    mean: float | None = None  # normalisation; None = measured on the unlabeled corpus
    std: float | None = None
    extra: dict = field(default_factory=dict)  # `key=value` overrides for both runs, e.g. {"train.max_steps": 2}

    def frontend(self) -> dict:
        return {"preset": None, "num_mel_bins": self.mel_bins, "target_frames": self.frames, "mean": self.mean,
                "std": self.std}


def encoder_model(recipe: SSLRecipe, encoder: str) -> dict:
    """The `model` section both stages share: the registered encoder at the recipe's depth, with its overrides."""
    return {"name": ENCODERS[encoder], "depth": recipe.depth, **ENCODER_OVERRIDES.get(encoder, {})}


def pretrain_recipe(recipe: SSLRecipe, encoder: str, unlabeled: Path, cache: Path) -> dict:
    return {
        "model": encoder_model(recipe, encoder),
        "data": {"format": "unlabeled", "root": str(unlabeled), "layout": "audio_tree", "val_fraction": 0.05,
                 "cache_dir": str(cache)},
        "task": {"name": "pretrain", "objective": "joint", "passes": 2, "mse_weight": 10.0,
                 "mask_size": recipe.mask_size, "masking": "cluster", "cluster_min": 1, "cluster_max": 2},
        "frontend": recipe.frontend(),
        "optim": {"name": "adamw", "lr": recipe.pretrain_lr, "betas": [0.95, 0.999], "weight_decay": 5e-8},
        "schedule": {"name": "cosine", "warmup_steps": 100, "min_lr_ratio": 0.05},
        "train": {"epochs": recipe.pretrain_epochs, "batch_size": recipe.pretrain_batch, "num_workers": 0,
                  "seed": 0, "device": "cpu", "val_split": "val", "test_split": None, "log_every_steps": 25},
    }


TASK_FORMATS = {"keywords": "speechcommands", "speakers": "folder"}  # downstream task -> the layout of its data


def finetune_recipe(recipe: SSLRecipe, encoder: str, labeled: Path, cache: Path, seed: int,
                    pretrained: Path | None, task: str = "keywords") -> dict:
    """The fine-tuning run of one seed: from `pretrained` (the recipe's fine-tuning options apply) or from scratch
    (the same budget, the plain recipe)."""
    model = {**encoder_model(recipe, encoder), "patch_stride": 16, "pool": "mean", "pretrain_heads": False}
    keep = SSLRecipe() if pretrained is None else recipe  # what the fine-tuning options are taken from
    if pretrained is not None:
        model["pretrained"] = str(pretrained)
    return {
        "model": model,
        "data": {"format": TASK_FORMATS[task], "root": str(labeled), "cache_dir": str(cache)},
        "task": {"name": "classification", "loss": "ce"},
        "augment": {},
        "frontend": recipe.frontend(),
        "optim": {"name": "adamw", "lr": recipe.finetune_lr, "betas": [0.9, 0.999], "weight_decay": 0.01,
                  "layer_decay": keep.finetune_layer_decay, "head_lr_mult": keep.finetune_head_lr_mult},
        "schedule": {"name": "cosine", "warmup_steps": 20, "min_lr_ratio": 0.0},
        "train": {"epochs": recipe.finetune_epochs, "batch_size": recipe.finetune_batch, "eval_batch_size": 64,
                  "num_workers": 0, "seed": seed, "device": "cpu", "val_split": "validation", "test_split": "test",
                  "log_every_steps": 50, "freeze_encoder_epochs": keep.finetune_freeze_epochs,
                  "early_stop_patience": keep.finetune_patience},
    }


def make_config(raw: dict, extra: dict):
    return config_from_dict(apply_overrides(copy.deepcopy(raw), [f"{k}={v}" for k, v in extra.items()]))


def measure_normalisation(recipe: SSLRecipe, unlabeled: Path, max_clips: int = 500) -> tuple[float, float]:
    """Mean/std of the unlabeled corpus' fbank at the recipe's frontend (a random subset of clips)."""
    paths = subsample(clip_paths(unlabeled), max_clips, seed=0)
    stats = feature_stats(paths, Frontend(num_mel_bins=recipe.mel_bins, target_frames=recipe.frames))
    return stats["mean"], stats["std"]


def split_tensors(cfg: Config, split: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(x (N, T, F), labels (N,), classes) of a labeled split, through the run's own frontend and cache."""
    dataset = build_dataset(cfg.data, split, cfg.frontend.build())
    items = [item for item in (dataset[i] for i in range(len(dataset))) if item is not None]
    if not items:
        raise ConfigError(f"{cfg.data.root}: split {split!r} has no usable clip")
    x = torch.stack([item["x"] for item in items])
    labels = torch.stack([item["y"] for item in items]).argmax(dim=1)
    return x, labels, dataset.num_classes


def encoder_for_probe(cfg: Config, pretrained: Path | None, seed: int) -> AudioModel:
    """The fine-tuning model of `cfg` before any training: pretrained weights, or random init from `seed`."""
    section = dataclasses.replace(cfg.model, pretrained=str(pretrained) if pretrained else None)
    torch.manual_seed(seed)
    return section.build(input_frames=cfg.frontend.target_frames, mel_bins=cfg.frontend.num_mel_bins, num_classes=0)


def linear_probe(cfg, pretrained: Path | None, seed: int, recipe: SSLRecipe, splits: dict) -> float:
    model = encoder_for_probe(cfg, pretrained, seed)
    (xa, ya, classes), (xb, yb, _) = splits["train"], splits["test"]
    return probe_accuracy((clip_embeddings(model, xa), ya), (clip_embeddings(model, xb), yb), classes,
                          recipe.probe_l2)


def parameter_norm(directory: Path) -> float:
    """Global L2 norm of the encoder weights (pretext heads excluded) in a save_pretrained folder."""
    tensors = load_file(str(Path(directory) / "model.safetensors"))
    skip = ("cpredlayer", "gpredlayer", "mask_embed", "head")
    return float(sum(t.double().pow(2).sum() for k, t in tensors.items() if not k.startswith(skip)) ** 0.5)


def pretrain_encoder(encoder: str, recipe: SSLRecipe, unlabeled: Path, out: Path, progress=None) -> float:
    """Pretrain `encoder` on the unlabeled corpus into `out/pretrain_<encoder>`; returns the seconds it took."""
    started = time.perf_counter()
    cfg = make_config(pretrain_recipe(recipe, encoder, unlabeled, out / "feature_cache"), recipe.extra)
    summary = run_training(cfg, out / f"pretrain_{encoder}", progress=progress)
    seconds = time.perf_counter() - started
    log.info("%s pretrained in %.0f s: %s", encoder, seconds, summary)
    return seconds


def evaluate_encoder(encoder: str, recipe: SSLRecipe, out: Path, labeled: Path, runs: Path, task: str = "keywords",
                     progress=None) -> list[dict]:
    """Per seed, on one labeled set (`labeled`, in the layout of `task`): fine-tune from the pretrained encoder in
    `out/pretrain_<encoder>` and from scratch, and probe the pretrained and a random-init encoder. One row per
    (seed, init) with the test accuracies and wall times; runs go under `runs`."""
    pretrained_dir, rows = out / f"pretrain_{encoder}" / "best", []
    for seed in recipe.seeds:
        for init, pretrained in (("pretrained", pretrained_dir), ("scratch", None)):
            raw = finetune_recipe(recipe, encoder, labeled, out / "feature_cache", seed, pretrained, task)
            cfg = make_config(raw, recipe.extra)
            if not rows:
                splits = {s: split_tensors(cfg, s) for s in ("train", "test")}
            t0 = time.perf_counter()
            probe = linear_probe(cfg, pretrained, seed, recipe, splits)
            t1 = time.perf_counter()
            result = run_training(cfg, runs / f"finetune_{encoder}_{init}_seed{seed}", progress=progress)
            rows.append({"encoder": encoder, "seed": seed, "init": init, "finetune_acc": result["test"]["accuracy"],
                         "probe_acc": probe, "finetune_s": time.perf_counter() - t1, "probe_s": t1 - t0})
            log.info("%s", rows[-1])
    return rows


def gains(rows: list[dict]) -> dict:
    """{"finetune": {init: (mean, half range)}, "probe": {...}, "gain": {"finetune", "probe"}} in points, over the
    rows of one encoder (and one set and task)."""
    entry: dict = {}
    for metric in ("finetune", "probe"):
        entry[metric] = {}
        for init in ("pretrained", "scratch"):
            values = [100 * r[f"{metric}_acc"] for r in rows if r["init"] == init]
            entry[metric][init] = (sum(values) / len(values), (max(values) - min(values)) / 2)
    entry["gain"] = {m: entry[m]["pretrained"][0] - entry[m]["scratch"][0] for m in ("finetune", "probe")}
    return entry


def summarise(rows: list[dict]) -> dict:
    """{task: {encoder: {set: gains, ..., "mean": {"gain": {...}, "sets": n}}}}: the gains of each (task,
    encoder, set) over the seeds, and their mean over the sets."""
    table: dict = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        table[task] = {}
        mine = [r for r in rows if r["task"] == task]
        for encoder in dict.fromkeys(r["encoder"] for r in mine):
            per_set = {s: gains([r for r in mine if r["encoder"] == encoder and r["set"] == s])
                       for s in dict.fromkeys(r["set"] for r in mine if r["encoder"] == encoder)}
            mean = {m: sum(e["gain"][m] for e in per_set.values()) / len(per_set) for m in ("finetune", "probe")}
            worst = {m: min(e["gain"][m] for e in per_set.values()) for m in ("finetune", "probe")}
            table[task][encoder] = {**per_set, "mean": {"gain": mean, "worst": worst, "sets": len(per_set)}}
    return table


def write_results(rows: list[dict], out: Path) -> dict:
    """`ssl_results.csv` (one row per run) and `ssl_summary.json` (`summarise`); returns the summary."""
    with open(out / "ssl_results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows)
    (out / "ssl_summary.json").write_text(json.dumps(summary, indent=2))
    return summary
