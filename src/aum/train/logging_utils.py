"""Run logs: CSV files (train steps, evaluations) and TensorBoard, plus the progress-reporting hook.

The Trainer never prints. It reports progress to a `Progress` object (the CLI passes a rich progress bar;
the default only logs) and writes `logs/train.csv`, `logs/eval.csv` and TensorBoard events under `logs/`.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)


class Progress:
    """Progress hook; subclass to render. Every method is optional to override."""

    def start_epoch(self, epoch: int, total_batches: int, done_batches: int = 0) -> None:
        log.info("epoch %d: %d batches (%d already done)", epoch, total_batches, done_batches)

    def update(self, batches: int, logs: dict) -> None:
        pass

    def end_epoch(self, epoch: int, summary: dict) -> None:
        log.info("epoch %d: %s", epoch, format_metrics(summary))

    def close(self) -> None:
        pass


def format_metrics(values: dict, keys: list[str] | None = None) -> str:
    parts = []
    for k in keys or list(values):
        v = values.get(k)
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}" if not math.isnan(v) else f"{k}=nan")
        elif v is not None:
            parts.append(f"{k}={v}")
    return " ".join(parts)


class CsvLog:
    """Append rows to a CSV; the header grows when new keys appear (the file is rewritten then).

    `truncate_after(step)` drops rows with a larger step: a resumed run rewrites the part after its checkpoint.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: list[dict] = []
        if self.path.is_file():
            with open(self.path, newline="") as f:
                self.rows = list(csv.DictReader(f))

    def truncate_after(self, step: int) -> None:
        kept = [r for r in self.rows if float(r.get("step") or 0) <= step]
        if len(kept) != len(self.rows):
            self.rows = kept
            self._rewrite()

    def _fields(self) -> list[str]:
        fields: list[str] = []
        for r in self.rows:
            fields += [k for k in r if k not in fields]
        return fields

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._fields())
            w.writeheader()
            w.writerows(self.rows)
        tmp.replace(self.path)

    def append(self, row: dict) -> None:
        new_keys = self.rows and any(k not in self.rows[0] for k in row)
        self.rows.append(row)
        if new_keys or not self.path.is_file() or len(self.rows) == 1:
            self._rewrite()
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self._fields()).writerow(row)


class RunLogger:
    """CSV + TensorBoard for one run directory (rank 0 only; other ranks get `enabled=False`)."""

    def __init__(self, log_dir: Path, enabled: bool = True, tensorboard: bool = True):
        self.enabled, self.log_dir = enabled, Path(log_dir)
        self.train_csv = self.eval_csv = self.tb = None
        if not enabled:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.train_csv, self.eval_csv = CsvLog(self.log_dir / "train.csv"), CsvLog(self.log_dir / "eval.csv")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow to import: only when logging to it

            self.tb = SummaryWriter(str(self.log_dir))

    def resume_at(self, step: int) -> None:
        if self.enabled:
            self.train_csv.truncate_after(step)
            self.eval_csv.truncate_after(step)

    def _write(self, csv_log: CsvLog, prefix: str, step: int, values: dict) -> None:
        if not self.enabled:
            return
        scalars = {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        csv_log.append({"step": step, **scalars})
        if self.tb is not None:
            for k, v in scalars.items():
                if k not in ("step", "epoch"):
                    self.tb.add_scalar(f"{prefix}/{k}", v, step)

    def log_train(self, step: int, values: dict) -> None:
        self._write(self.train_csv, "train", step, values)

    def log_eval(self, step: int, values: dict) -> None:
        self._write(self.eval_csv, "eval", step, values)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
