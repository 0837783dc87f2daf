"""The training loop, shared by every `Task` (classification, masked-patch pretraining, ...).

    trainer = Trainer(cfg, task, model, train_loader, val_loader, out_dir, meta={"frontend": ...})
    summary = trainer.fit(resume=False)

What it does: Adam/AdamW with a head lr multiplier, warmup + schedule (`LRSchedule`), bf16 autocast on CUDA,
gradient accumulation, optional EMA, DistributedDataParallel under torchrun (rank 0 logs, evaluates and saves),
checkpoints `best/` and `last/` (see `checkpoint.py`), exact resume (`fit(resume=True)`: model, optimizer,
schedule, sampler position inside the epoch, RNG states of every rank, EMA), CSV + TensorBoard logs and a PNG of
the curves at the end. The train loader must come from `aum.data.make_loader` (its sampler/dataset take
`set_epoch(epoch, start)`), so that an epoch's order and augmentations depend only on (seed, epoch).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import signal
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from aum.data import set_epoch
from aum.errors import ConfigError, RunInterrupted, TrainingError
from aum.models import save_pretrained
from aum.models.card import training_record
from aum.train import run_folder as ckpt
from aum.train.config import Config, save_config
from aum.train.distributed import DistInfo, barrier, broadcast_object
from aum.train.guards import StopRequest, check_bad_share
from aum.train.logging_utils import Progress, RunLogger, format_metrics
from aum.train.plots import plot_training_curves
from aum.train.schedule import LRSchedule, build_optimizer
from aum.train.tasks import Task, autocast_for, batch_to

log = logging.getLogger(__name__)


class Trainer:
    def __init__(self, cfg: Config, task: Task, model: torch.nn.Module, train_loader, val_loader, out_dir,
                 meta: dict | None = None, dist_info: DistInfo | None = None, device: torch.device | None = None,
                 progress: Progress | None = None):
        self.cfg, self.task, self.out_dir = cfg, task, Path(out_dir)
        self.info = dist_info or DistInfo()
        self.device = device or torch.device("cpu")
        self.train_loader, self.val_loader = train_loader, val_loader
        self.has_val = broadcast_object(val_loader is not None, self.info)  # rank 0 alone holds the loader
        self.meta, self.progress = dict(meta or {}), progress or Progress()
        self.last_metrics: dict | None = None  # latest validation metrics, recorded in checkpoints
        self.model = model.to(self.device)
        self.amp = cfg.train.amp in ("auto", "bf16") and self.device.type == "cuda"
        # what is trained: the model, or the task's module around it (pretraining: encoder + pretext task)
        self.net = self._wrap_ddp(task.wrap(self.model) if hasattr(task, "wrap") else self.model)
        self.optimizer = build_optimizer(self.model, cfg.optim)
        set_epoch(train_loader, 0)
        self.batches_per_epoch = len(train_loader)
        if self.batches_per_epoch == 0:
            raise ConfigError("the training loader is empty (fewer clips than one batch?)")
        self.accum = max(1, cfg.optim.accum_steps)
        steps_per_epoch = math.ceil(self.batches_per_epoch / self.accum)
        self.schedule = LRSchedule(self.optimizer, cfg.schedule, steps_per_epoch, steps_per_epoch * cfg.train.epochs,
                                   plateau_mode=task.select_mode)
        self.plateau_metric = cfg.schedule.plateau_metric or task.select_metric
        self.ema = self._make_ema()
        self.epoch, self.step, self.batches_done = 0, 0, 0
        self.best_value: float | None = None
        self.best_epoch = -1
        self.stale_evals = 0  # validations since the selection metric last improved (early stopping)
        self.bad_clips_total = 0  # skipped (unreadable) training clips, all epochs of this process
        self.good_clips = 0  # clips trained on in the current epoch (this process)
        self.stop = StopRequest()  # Ctrl-C / SIGTERM: finish the step, save last/, raise RunInterrupted
        self.logger = RunLogger(self.out_dir / "logs", enabled=self.info.is_main)

    # ------------------------------------------------------------------------------------------------ set-up
    def _wrap_ddp(self, model):
        if not self.info.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids,
                                       find_unused_parameters=bool(getattr(self.task, "find_unused_parameters", False)))

    def _make_ema(self):
        if self.cfg.train.ema_decay <= 0:
            return None
        ema = copy.deepcopy(self.model).eval()
        for p in ema.parameters():
            p.requires_grad_(False)
        return ema

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        decay = self.cfg.train.ema_decay
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p.detach(), 1.0 - decay)
        for e, b in zip(self.ema.buffers(), self.model.buffers()):
            e.copy_(b)

    @property
    def eval_model(self) -> torch.nn.Module:
        return self.ema if self.ema is not None else self.model

    # ----------------------------------------------------------------------------------------- checkpoints
    def _trainer_state(self) -> dict:
        rng = ckpt.capture_rng_state()
        rngs = [None] * self.info.world_size if self.info.enabled else [rng]
        if self.info.enabled:
            dist.all_gather_object(rngs, rng)
        return {"epoch": self.epoch, "step": self.step, "batches_done": self.batches_done,
                "world_size": self.info.world_size, "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(), "rng": rngs,
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "best_value": self.best_value, "best_epoch": self.best_epoch, "stale_evals": self.stale_evals}

    def _save(self, name: str, model: torch.nn.Module, state: dict | None) -> None:
        if not self.info.is_main:
            return
        splits = {"val_split": self.cfg.train.val_split} if self.has_val else {}
        meta = {**self.meta, **self.task.checkpoint_meta(),
                "trained": training_record(self.epoch, self.step, self.cfg.data.to_dict() if self.cfg.data else {},
                                           splits, self.last_metrics)}

        def fill(tmp: Path) -> None:
            save_pretrained(model, tmp, meta=meta)
            save_config(self.cfg, tmp / ckpt.TRAIN_CONFIG)
            if state is not None:
                ckpt.save_trainer_state(state, tmp)

        ckpt.write_checkpoint_dir(self.out_dir / name, fill)
        log.debug("saved %s at step %d", name, self.step)

    def save_last(self) -> None:
        state = self._trainer_state()  # every rank takes part (RNG gather)
        self._save("last", self.model, state)
        barrier(self.info)

    def _resume(self) -> None:
        directory = ckpt.resolve_checkpoint(self.out_dir / "last")
        state = ckpt.load_trainer_state(directory)
        ckpt.load_model_weights(self.model, directory)
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.ema is not None:
            if state["ema"] is None:
                raise ConfigError(f"{directory}: saved without EMA but train.ema_decay > 0")
            self.ema.load_state_dict(state["ema"])
        self.epoch, self.step, self.batches_done = state["epoch"], state["step"], state["batches_done"]
        self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
        self.stale_evals = int(state.get("stale_evals", 0))
        rngs = state["rng"]
        if len(rngs) == self.info.world_size:
            ckpt.restore_rng_state(rngs[self.info.rank])
        else:
            log.warning("resuming with %d processes, saved with %d: RNG states not restored (not bitwise exact)",
                        self.info.world_size, len(rngs))
        self.logger.resume_at(self.step)
        log.info("resumed from %s: epoch %d, step %d, %d batches into the epoch", directory, self.epoch,
                 self.step, self.batches_done)

    # -------------------------------------------------------------------------------------------- training
    def _micro_step(self, batch: dict, sync: bool) -> dict:
        batch = batch_to(batch, self.device)
        no_sync = self.net.no_sync if (self.info.enabled and not sync) else None
        with no_sync() if no_sync is not None else contextlib.nullcontext():
            with autocast_for(self.device, self.amp):
                loss, logs = self.task.loss(self.net, batch)
            (loss / self.accum).backward()
        if not math.isfinite(float(logs.get("loss", loss.detach()))):
            raise TrainingError(f"loss is {float(loss)} at step {self.step}; lower optim.lr or check the data")
        return logs

    def _optimizer_step(self) -> None:
        if self.cfg.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.schedule.step()
        self._update_ema()
        self.step += 1

    def _stale(self) -> bool:
        """No improvement in `train.early_stop_patience` validations (early stopping)."""
        return 0 < self.cfg.train.early_stop_patience <= self.stale_evals

    def _stop(self) -> bool:
        """`train.max_steps` reached, or early stopping."""
        return 0 < self.cfg.train.max_steps <= self.step or self._stale()

    def _train_epoch(self) -> dict:
        """One epoch from `self.batches_done`; returns the epoch's mean loss and throughput."""
        cfg = self.cfg.train
        set_epoch(self.train_loader, self.epoch, self.batches_done * cfg.batch_size)
        self.schedule.freeze_encoder(self.epoch < cfg.freeze_encoder_epochs)
        self.net.train()
        self.progress.start_epoch(self.epoch, self.batches_per_epoch, self.batches_done)
        window = {"sums": {}, "n": 0, "clips": 0, "t": time.perf_counter()}  # sums of every logged value
        epoch_loss, epoch_batches, pending = 0.0, 0, 0
        self.good_clips, boundary = 0, self.batches_done
        batches = iter(self.train_loader)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except RuntimeError:  # Ctrl-C reaches DataLoader workers too; they die before the main process stops
                if not self.stop.requested:
                    raise
                self.batches_done = boundary  # back to the last optimizer step (drops a partial accumulation)
                self.optimizer.zero_grad(set_to_none=True)
                break
            self.batches_done += 1
            at_boundary = self.batches_done % self.accum == 0 or self.batches_done == self.batches_per_epoch
            if batch is not None:
                logs = self._micro_step(batch, sync=at_boundary)
                pending += 1
                for key, value in logs.items():
                    window["sums"][key] = window["sums"].get(key, 0.0) + float(value)
                window["n"] += 1
                window["clips"] += len(batch["x"])
                self.good_clips += len(batch["x"])
                epoch_loss += logs["loss"]
                epoch_batches += 1
                self.progress.update(1, {"loss": logs["loss"]})
            else:
                self.progress.update(1, {})
            if not at_boundary:
                continue
            if pending:
                self._optimizer_step()
                pending = 0
            boundary = self.batches_done
            if self.step % max(1, cfg.log_every_steps) == 0 and window["n"]:
                self._log_window(window)
            if cfg.save_every_steps and self.step % cfg.save_every_steps == 0:
                self.save_last()
            if self._stop() or self._stop_requested():
                break
        return {"train_loss": epoch_loss / max(1, epoch_batches)}

    def _log_window(self, window: dict) -> None:
        elapsed = max(time.perf_counter() - window["t"], 1e-9)
        means = {key: total / window["n"] for key, total in window["sums"].items()}  # loss, and e.g. nce / mse
        row = {"epoch": self.epoch, **means,
               "lr": self.optimizer.param_groups[0]["lr"], "clips_per_s": window["clips"] * self.info.world_size
               / elapsed}
        self.logger.log_train(self.step, row)
        self.progress.update(0, {"clips_per_s": row["clips_per_s"], "lr": row["lr"]})
        window.update(sums={}, n=0, clips=0, t=time.perf_counter())

    def evaluate(self) -> dict:
        """Validation metrics from rank 0 (EMA weights when EMA is on), broadcast to every rank."""
        metrics = None
        if self.info.is_main:
            self.eval_model.eval()
            with autocast_for(self.device, self.amp):
                metrics = self.task.evaluate(self.eval_model, self.val_loader)
            self.net.train()
        return broadcast_object(metrics, self.info)

    def _is_better(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.task.select_mode == "max" else value < self.best_value

    def _end_epoch(self, summary: dict, bad_before: int) -> None:
        cfg = self.cfg.train
        last_epoch = self.epoch + 1 == cfg.epochs or self._stop()
        bad = self._bad_clips() - bad_before
        self.bad_clips_total += bad
        self._check_bad_share(bad)
        summary = {**summary, "bad_clips": bad}
        if self.has_val and ((self.epoch + 1) % max(1, cfg.eval_every_epochs) == 0 or last_epoch):
            metrics = self.last_metrics = self.evaluate()
            summary.update(metrics)
            self.schedule.on_metric(metrics.get(self.plateau_metric))
            self.logger.log_eval(self.step, {"epoch": self.epoch, **metrics})
            if self._is_better(metrics.get(self.task.select_metric)):
                self.best_value, self.best_epoch, self.stale_evals = metrics[self.task.select_metric], self.epoch, 0
                self._save("best", self.eval_model, None)
            else:
                self.stale_evals += 1
        elif not self.has_val:  # nothing to select on: "best" is the latest model
            self.best_epoch = self.epoch
            self._save("best", self.eval_model, None)
        if bad:
            log.warning("epoch %d: %d bad clip(s) skipped", self.epoch, bad)
        self.progress.end_epoch(self.epoch, summary)
        self.epoch, self.batches_done = self.epoch + 1, 0
        self.save_last()

    def _check_bad_share(self, bad: int) -> None:
        """Fail (on every rank) when the epoch trained on nothing or skipped too many clips."""
        counts = torch.tensor([self.good_clips, bad], dtype=torch.float64, device=self.device)
        if self.info.enabled:
            dist.all_reduce(counts)
        check_bad_share(self.epoch, int(counts[0]), int(counts[1]), self.cfg.train.max_bad_fraction)

    def _stop_requested(self) -> bool:
        """Whether a stop signal reached this process or, under DDP, any rank (all ranks stop at the same step)."""
        if not self.info.enabled:
            return self.stop.requested
        flag = torch.tensor([float(self.stop.requested)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() and not self.stop.requested:
            self.stop.signal = signal.SIGTERM  # another rank was signalled
        return bool(flag.item())

    def _interrupted(self) -> RunInterrupted:
        return RunInterrupted(f"stopped by {self.stop.name} at epoch {self.epoch}, step {self.step}; saved "
                              f"{self.out_dir / 'last'}: run the same command with --resume to continue")

    def _bad_clips(self) -> int:
        return int(getattr(self.train_loader.dataset, "bad_clips", 0))

    def fit(self, resume: bool = False) -> dict:
        """Train to `train.epochs` (or `train.max_steps`); returns a summary (best metric, steps, seconds)."""
        if self.info.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.out_dir / "config.yaml")
        if resume:
            self._resume()
        start = time.perf_counter()
        try:
            with self.stop:
                while self.epoch < self.cfg.train.epochs and not self._stop():
                    bad_before = self._bad_clips()
                    summary = self._train_epoch()
                    if self._stop_requested() and self.batches_done < self.batches_per_epoch and not self._stop():
                        self.save_last()  # mid-epoch: last/ records the position inside the epoch
                    else:
                        self._end_epoch(summary, bad_before)  # saves last/
                    if self._stop_requested():
                        raise self._interrupted()
        finally:
            self.progress.close()
            self.logger.close()
        seconds = time.perf_counter() - start
        if self.info.is_main:
            self._plot()
        if self._stale():
            log.info("stopped early after epoch %d: no better %s in %d validations", self.epoch - 1,
                     self.task.select_metric, self.stale_evals)
        result = {"best_" + self.task.select_metric: self.best_value, "best_epoch": self.best_epoch,
                  "steps": self.step, "epochs": self.epoch, "seconds": seconds, "bad_clips": self.bad_clips_total}
        log.info("training done: %s", format_metrics(result))
        return result

    def _plot(self) -> None:
        try:
            plot_training_curves(self.out_dir / "logs", self.out_dir / "curves.png", self.task.select_metric)
        except (OSError, ValueError) as e:
            log.warning("could not draw the training curves: %s", e)
