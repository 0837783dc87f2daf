"""From a `Config` to a finished run: frontend, datasets, loaders, model, task, Trainer, test evaluation.

    cfg = load_config("configs/demo.yaml", ["train.epochs=3"], )
    summary = run_training(cfg, "runs/demo")          # or resume=True after an interruption

`model:` keys other than `name` / `pretrained` go to `create_model`; the task adds what it dictates
(`task.model_overrides()`, e.g. `num_classes`) and the frontend sets `input_frames` / `mel_bins`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import torch

from aum.errors import ConfigError
from aum.train.config import Config, FrontendConfig
from aum.train.distributed import DistInfo, barrier, cleanup_distributed, seed_everything, setup_distributed
from aum.train.guards import RunLock
from aum.train.logging_utils import Progress, format_metrics
from aum.train.task_registry import build_task
from aum.train.tasks import Task, autocast_for

log = logging.getLogger(__name__)

def build_frontend(cfg: FrontendConfig):
    from aum.audio import NORM_STATS, Frontend

    if (cfg.mean is None) != (cfg.std is None):
        raise ConfigError("frontend: set both mean and std, or neither (then `preset` gives them)")
    if cfg.mean is not None:
        mean, std = cfg.mean, cfg.std
    elif cfg.preset in NORM_STATS:
        mean, std = NORM_STATS[cfg.preset]
    else:
        raise ConfigError(f"frontend.preset={cfg.preset!r}: choose one of {sorted(NORM_STATS)} or set mean/std")
    return Frontend(sample_rate=cfg.sample_rate, num_mel_bins=cfg.num_mel_bins, target_frames=cfg.target_frames,
                    mean=mean, std=std)


def build_model(cfg: Config, task: Task, frontend) -> torch.nn.Module:
    from aum.models import create_model

    kwargs = dict(cfg.model)
    name = kwargs.pop("name", None)
    if not name:
        raise ConfigError("model.name is required, e.g. model.name=aum_tiny (see `aum models list`)")
    pretrained = kwargs.pop("pretrained", None)
    dictated = {"input_frames": frontend.target_frames, "mel_bins": frontend.num_mel_bins}
    dictated.update(getattr(task, "model_overrides", lambda: {})())
    for key, value in dictated.items():
        if key in kwargs and kwargs[key] != value:
            raise ConfigError(f"model.{key}={kwargs[key]} contradicts the data/frontend ({value}); remove it")
        kwargs[key] = value
    return create_model(name, pretrained=pretrained, **kwargs)


def build_loaders(cfg: Config, frontend, info: DistInfo):
    """(train dataset, train loader, validation loader or None); the validation split is read on rank 0 only."""
    from aum.data import BalancedSampler, build_dataset, make_loader

    data_cfg = {**cfg.data, "seed": cfg.train.seed}
    train_ds = build_dataset(data_cfg, cfg.train.train_split, frontend, cfg.augment)
    sampler = None
    if cfg.train.balanced_sampler:
        sampler = BalancedSampler(train_ds.targets, seed=cfg.train.seed, rank=info.rank, world_size=info.world_size)
    train_loader = make_loader(train_ds, cfg.train.batch_size, shuffle=True, num_workers=cfg.train.num_workers,
                               seed=cfg.train.seed, sampler=sampler, distributed=info.enabled,
                               pin_memory=torch.cuda.is_available())
    val_loader = None
    if cfg.train.val_split and info.is_main:
        val_loader = eval_loader(cfg, frontend, cfg.train.val_split)
    return train_ds, train_loader, val_loader


def eval_loader(cfg: Config, frontend, split: str):
    from aum.data import build_dataset, make_loader

    dataset = build_dataset({**cfg.data, "seed": cfg.train.seed}, split, frontend, None)
    return make_loader(dataset, cfg.train.eval_batch_size or cfg.train.batch_size, shuffle=False,
                       num_workers=cfg.train.num_workers, seed=cfg.train.seed)


def build_trainer(cfg: Config, out_dir: str | Path, info: DistInfo, device: torch.device,
                  progress: Progress | None = None):
    """Everything a run needs, on this rank: returns (trainer, task, frontend)."""
    from aum.train.trainer import Trainer

    seed_everything(cfg.train.seed + info.rank)
    frontend = build_frontend(cfg.frontend)
    train_ds, train_loader, val_loader = build_loaders(cfg, frontend, info)
    task = build_task(cfg.task, train_ds)
    seed_everything(cfg.train.seed)  # identical initial weights on every rank
    model = build_model(cfg, task, frontend)
    seed_everything(cfg.train.seed + info.rank)
    log.info("model %s: %.2fM parameters, device %s", cfg.model.get("name"),
             sum(p.numel() for p in model.parameters()) / 1e6, device)
    if (patches := getattr(model, "patch_embed", None)) is not None:
        seen = patches.frames_seen(frontend.target_frames)
        if seen < frontend.target_frames:
            size, stride = patches.patch_size[1], patches.stride[1]
            log.info("the patches cover %d of the %d input frames: the last %d (%d ms) of every clip are never seen "
                     "(a frontend.target_frames of %d + k x %d covers them all)", seen, frontend.target_frames,
                     frontend.target_frames - seen, 10 * (frontend.target_frames - seen), size, stride)
    trainer = Trainer(cfg, task, model, train_loader, val_loader, out_dir, meta={"frontend": frontend.to_dict()},
                      dist_info=info, device=device, progress=progress)
    return trainer, task, frontend


def run_training(cfg: Config, out_dir: str | Path, resume: bool = False, progress: Progress | None = None) -> dict:
    """Train, then evaluate the best checkpoint on `train.test_split` (rank 0); returns the summary dict."""
    out_dir = Path(out_dir)
    with contextlib.ExitStack() as stack:
        if int(os.environ.get("RANK", "0")) == 0:  # one run per folder: torchrun's rank 0 holds the lock
            stack.enter_context(RunLock(out_dir))
        if not resume and (out_dir / "last").exists():
            raise ConfigError(f"{out_dir}: already holds a run; pass --resume to continue it or choose another --out")
        info, device = setup_distributed(cfg.train.device)
        stack.callback(cleanup_distributed)
        trainer, task, frontend = build_trainer(cfg, out_dir, info, device, progress)
        if info.is_main:
            warn_split_overlap(cfg, trainer.train_loader.dataset, trainer.val_loader)
        summary = trainer.fit(resume=resume)
        if info.is_main and cfg.train.test_split:
            summary["test"] = test_best(cfg, task, trainer.model, frontend, out_dir, device)
        barrier(info)  # every rank tears the process group down together, not while rank 0 still tests or saves
        return summary


def warn_split_overlap(cfg: Config, train_ds, val_loader=None) -> None:
    """Warn when validation / test clips also appear in the training split (same path or same content)."""
    from aum.data.build import read_examples
    from aum.data.overlap import report_overlap

    for split in dict.fromkeys(s for s in (cfg.train.val_split, cfg.train.test_split) if s):
        if split == cfg.train.val_split and val_loader is not None:
            examples = val_loader.dataset.examples
        else:
            try:
                examples, _, _ = read_examples({**cfg.data, "seed": cfg.train.seed}, split)
            except (ValueError, OSError):
                continue  # a split that cannot be read is reported when it is used
        report_overlap(cfg.train.train_split, train_ds.examples, split, examples)


def test_best(cfg: Config, task: Task, model: torch.nn.Module, frontend, out_dir: Path, device) -> dict:
    """Evaluate `out_dir/best` on the test split; writes `test_metrics.json`."""
    from aum.train.evaluate import json_safe
    from aum.train.run_folder import load_model_weights, resolve_checkpoint

    load_model_weights(model, resolve_checkpoint(out_dir / "best"))
    model.to(device).eval()
    with autocast_for(device, cfg.train.amp in ("auto", "bf16") and device.type == "cuda"):
        metrics = task.evaluate(model, eval_loader(cfg, frontend, cfg.train.test_split))
    (out_dir / "test_metrics.json").write_text(json.dumps(json_safe(metrics), indent=2))
    log.info("test (%s, best checkpoint): %s", cfg.train.test_split, format_metrics(metrics))
    return metrics
