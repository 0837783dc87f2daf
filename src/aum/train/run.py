"""From a `Config` to a finished run: frontend, datasets, loaders, model, task, Trainer, test evaluation.

    cfg = load_config("configs/demo.yaml", ["train.epochs=3"])
    summary = run_training(cfg, "runs/demo")          # or resume=True after an interruption

The config arrives parsed and checked (`load_config`); this module only builds from it, top to bottom. Each split
of the data is read once per run (`SplitIndex`). The model gets what the data and the task dictate on top of its
`model:` section: `input_frames` / `mel_bins` from the frontend, and the task's `model_overrides()` (e.g.
`num_classes`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

import torch

from aum.audio import FRAME_SHIFT_MS, Frontend
from aum.data import BalancedSampler, SplitIndex, make_loader
from aum.data.overlap import report_overlap
from aum.errors import ConfigError
from aum.models import AudioModel
from aum.train.config import Config
from aum.train.distributed import DistInfo, barrier, cleanup_distributed, seed_everything, setup_distributed
from aum.train.evaluate import json_safe
from aum.train.guards import RunLock
from aum.train.logging_utils import Progress, format_metrics
from aum.train.run_folder import load_model_weights, resolve_checkpoint
from aum.train.task_registry import build_task
from aum.train.tasks import Task, autocast_for
from aum.train.trainer import Trainer

log = logging.getLogger(__name__)


def build_model(cfg: Config, task: Task, frontend: Frontend) -> AudioModel:
    """The run's model: its `model:` section plus what the frontend and the task dictate."""
    dictated = {"input_frames": frontend.target_frames, "mel_bins": frontend.num_mel_bins}
    dictated.update(getattr(task, "model_overrides", lambda: {})())
    return cfg.model.build(**dictated)


def log_unseen_frames(model: AudioModel, frontend: Frontend) -> None:
    """One line when the patch grid leaves the last input frames of every clip unseen."""
    patches = model.patch_embed
    seen = patches.frames_seen(frontend.target_frames)
    if seen < frontend.target_frames:
        size, stride = patches.patch_size[1], patches.stride[1]
        log.info("the patches cover %d of the %d input frames: the last %d (%g ms) of every clip are never seen "
                 "(a frontend.target_frames of %d + k x %d covers them all)", seen, frontend.target_frames,
                 frontend.target_frames - seen, FRAME_SHIFT_MS * (frontend.target_frames - seen), size, stride)


def eval_loader(cfg: Config, splits: SplitIndex, frontend: Frontend, split: str):
    dataset = splits.dataset(split, frontend, seed=cfg.train.seed)
    return make_loader(dataset, cfg.train.eval_batch_size or cfg.train.batch_size, shuffle=False,
                       num_workers=cfg.train.num_workers, seed=cfg.train.seed)


def build_trainer(cfg: Config, splits: SplitIndex, out_dir: Path, info: DistInfo, device: torch.device,
                  progress: Progress | None = None) -> tuple[Trainer, Task, Frontend]:
    """Everything a run needs, on this rank; the validation split is read on rank 0 only."""
    train = cfg.train
    seed_everything(train.seed + info.rank)
    frontend = cfg.frontend.build()
    train_ds = splits.dataset(train.train_split, frontend, cfg.augment, seed=train.seed)
    sampler = None
    if train.balanced_sampler:
        sampler = BalancedSampler(train_ds.targets, seed=train.seed, rank=info.rank, world_size=info.world_size)
    train_loader = make_loader(train_ds, train.batch_size, shuffle=True, num_workers=train.num_workers,
                               seed=train.seed, sampler=sampler, distributed=info.enabled,
                               pin_memory=torch.cuda.is_available())
    val_loader = eval_loader(cfg, splits, frontend, train.val_split) if train.val_split and info.is_main else None
    task = build_task(cfg.task, train_ds)
    seed_everything(train.seed)  # identical initial weights on every rank
    model = build_model(cfg, task, frontend)
    seed_everything(train.seed + info.rank)
    log.info("model %s: %.2fM parameters, device %s", cfg.model.name,
             sum(p.numel() for p in model.parameters()) / 1e6, device)
    log_unseen_frames(model, frontend)
    trainer = Trainer(cfg, task, model, train_loader, val_loader, out_dir, meta={"frontend": frontend.to_dict()},
                      dist_info=info, device=device, progress=progress)
    return trainer, task, frontend


def run_training(cfg: Config, out_dir: str | Path, resume: bool = False, progress: Progress | None = None) -> dict:
    """Train, then evaluate the best checkpoint on `train.test_split` (rank 0); returns the summary dict."""
    out_dir = Path(out_dir)
    if cfg.data is None:
        raise ConfigError("data: the recipe has no data section (e.g. data.format=speechcommands data.root=DIR)")
    with contextlib.ExitStack() as stack:
        if int(os.environ.get("RANK", "0")) == 0:  # one run per folder: torchrun's rank 0 holds the lock
            stack.enter_context(RunLock(out_dir))
        if not resume and (out_dir / "last").exists():
            raise ConfigError(f"{out_dir}: already holds a run; pass --resume to continue it or choose another --out")
        info, device = setup_distributed(cfg.train.device)
        stack.callback(cleanup_distributed)
        splits = SplitIndex(cfg.data)
        trainer, task, frontend = build_trainer(cfg, splits, out_dir, info, device, progress)
        if info.is_main:
            warn_split_overlap(cfg, splits)
        summary = trainer.fit(resume=resume)
        if info.is_main and cfg.train.test_split:
            summary["test"] = test_best(cfg, task, trainer.model, eval_loader(cfg, splits, frontend,
                                                                               cfg.train.test_split), out_dir, device)
        barrier(info)  # every rank tears the process group down together, not while rank 0 still tests or saves
        return summary


def warn_split_overlap(cfg: Config, splits: SplitIndex) -> None:
    """Warn when validation / test clips also appear in the training split (same path or same content)."""
    train_examples = splits.examples(cfg.train.train_split)[0]
    for split in dict.fromkeys(s for s in (cfg.train.val_split, cfg.train.test_split) if s):
        try:
            examples = splits.examples(split)[0]
        except (ValueError, OSError):
            continue  # a split that cannot be read is reported when it is used
        report_overlap(cfg.train.train_split, train_examples, split, examples)


def test_best(cfg: Config, task: Task, model: torch.nn.Module, loader, out_dir: Path, device) -> dict:
    """Evaluate `out_dir/best` on the test split's loader; writes `test_metrics.json`."""
    load_model_weights(model, resolve_checkpoint(out_dir / "best"))
    model.to(device).eval()
    with autocast_for(device, cfg.train.amp in ("auto", "bf16") and device.type == "cuda"):
        metrics = task.evaluate(model, loader)
    (out_dir / "test_metrics.json").write_text(json.dumps(json_safe(metrics), indent=2))
    log.info("test (%s, best checkpoint): %s", cfg.train.test_split, format_metrics(metrics))
    return metrics
