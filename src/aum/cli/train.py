"""`aum train CONFIG.yaml [key=value ...] [--resume] [--out DIR]`: train a model from a YAML recipe.

Overrides: section.key=value, e.g. optim.lr=1e-4 train.epochs=3 model.depth=12. Relative data paths in the YAML
are relative to its folder. Under `torchrun --nproc_per_node=N` the same command runs DistributedDataParallel
(rank 0 logs and saves).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichBar

from aum.cli.parsers import add_action
from aum.errors import ConfigError
from aum.train import load_config, run_training
from aum.train.logging_utils import Progress, format_metrics


class RichProgress(Progress):
    """A rich progress bar per epoch with the running loss and clips/s (used by `aum train` / `aum demo`)."""

    def __init__(self):
        self.bar = RichBar(TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("loss {task.fields[loss]:.4f}  {task.fields[speed]:.1f} clips/s"),
                           TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
        self.task_id = None
        self.loss = None

    def start_epoch(self, epoch: int, total_batches: int, done_batches: int = 0) -> None:
        if self.task_id is None:
            self.bar.start()
        self.task_id = self.bar.add_task("train", total=total_batches, completed=done_batches, epoch=epoch,
                                         loss=float("nan"), speed=0.0)

    def update(self, batches: int, logs: dict) -> None:
        fields = {}
        if "loss" in logs:
            self.loss = logs["loss"] if self.loss is None else 0.9 * self.loss + 0.1 * logs["loss"]
            fields["loss"] = self.loss
        if "clips_per_s" in logs:
            fields["speed"] = logs["clips_per_s"]
        self.bar.update(self.task_id, advance=batches, **fields)

    def end_epoch(self, epoch: int, summary: dict) -> None:
        keys = [k for k in ("train_loss", "loss", "accuracy", "mAP", "top5", "bad_clips") if k in summary]
        self.bar.console.print(f"epoch {epoch}: " + format_metrics(summary, keys))

    def close(self) -> None:
        self.bar.stop()


def add_run_arguments(p, example: str) -> None:
    """The arguments `aum train` and `aum pretrain` share."""
    p.add_argument("config", help=f"YAML recipe, e.g. {example}")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly from its 'last'")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")


def launch(args, cfg) -> tuple[Path, dict, bool]:
    """Run `cfg` in `--out` (rank 0 shows a progress bar); returns (run folder, summary, is rank 0)."""
    out = Path(args.out or Path("runs") / Path(args.config).stem)
    main = int(os.environ.get("RANK", "0")) == 0
    progress = None if (args.no_progress or not main) else RichProgress()
    summary = run_training(cfg, out, resume=args.resume, progress=progress)
    if main:
        print(f"run folder: {out}  (best/ last/ logs/ curves.png)")
    return out, summary, main


def register_run_command(sub, name: str, description: str, run, *, example: str, help: str) -> None:
    """A sub-command that runs a recipe (`aum train`, `aum pretrain`): the shared arguments, then `run(args)`;
    `description` is the command module's docstring."""
    p = add_action(sub, name, run, help, description=description.strip(),
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p, example)


def run_recipe(args, label: str, report, task: str = "classification", only_task: bool = False) -> int:
    """Load `args.config` + overrides (`task` when the recipe names none; with `only_task`, no other task is
    accepted) and run it; rank 0 then prints "<label>: <metrics>" and calls `report(cfg, run folder, summary)`."""
    cfg = load_config(args.config, args.overrides, default_task=task)
    if only_task and cfg.task.name != task:
        raise ConfigError(f"{args.config}: task.name is {cfg.task.name!r}; `aum {args.command}` runs "
                          f"task.name={task}")
    out, summary, main = launch(args, cfg)
    if main:
        print(f"{label}:", format_metrics({k: v for k, v in summary.items() if k != "test"}))
        report(cfg, out, summary)
    return 0


def register(sub) -> None:
    register_run_command(sub, "train", __doc__, run, example="configs/speechcommands.yaml",
                         help="train a model from a YAML recipe (key=value overrides)")


def run(args) -> int:
    return run_recipe(args, "training", report_test)


def report_test(cfg, out: Path, summary: dict) -> None:
    if "test" in summary:
        print(f"test ({cfg.train.test_split}):", format_metrics(summary["test"]))
