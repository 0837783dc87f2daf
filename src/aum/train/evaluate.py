"""Evaluate a saved classifier on a dataset split: metrics JSON, per-class report, confusion-matrix PNG.

    report = evaluate_checkpoint("runs/demo/best", data_cfg, "test", out_dir="runs/demo/eval_test")

The frontend and labels come from the checkpoint's meta, so the features are exactly the training ones; the
dataset's labels must be the checkpoint's labels (same order).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from aum.data import DataConfig, build_dataset, make_loader
from aum.devices import resolve_device
from aum.errors import ConfigError
from aum.models import from_pretrained
from aum.train import metrics as M
from aum.train.config import load_config
from aum.train.plots import plot_confusion_matrix
from aum.train.run_folder import TRAIN_CONFIG
from aum.train.tasks import ClassificationConfig, ClassificationTask, autocast_for

log = logging.getLogger(__name__)


def load_data_config(checkpoint: Path, data: str) -> tuple[DataConfig, str | None]:
    """`data` is a YAML config (its `data:` section) or a split name (the data of the checkpoint's training
    config). Returns (data section, split named by `data` or None)."""
    path = Path(data)
    if path.suffix in (".yaml", ".yml"):
        source, split = path, None
    else:
        source, split = Path(checkpoint) / TRAIN_CONFIG, data
        if not source.is_file():
            raise FileNotFoundError(f"{source}: no training config beside the checkpoint; pass --data CONFIG.yaml")
    found = load_config(source).data
    if found is None:
        raise ConfigError(f"{source}: no data section")
    return found, split


def evaluate_checkpoint(checkpoint: str | Path, data_cfg: DataConfig, split: str, out_dir: str | Path | None = None,
                        batch_size: int = 32, num_workers: int = 0, device: str = "auto") -> dict:
    """Scalar metrics + `per_class` rows (+ `confusion` for single-label data); written to out_dir if given."""
    model = from_pretrained(checkpoint)
    frontend, labels = model.frontend(), model.label_names()
    dataset = build_dataset(data_cfg, split, frontend, None)
    if list(dataset.labels) != labels:
        raise ConfigError(f"{checkpoint}: trained on labels {labels[:5]}... but the {split} data has "
                         f"{list(dataset.labels)[:5]}...; evaluate on the same label set")
    task_meta = model.meta.get("task") or {}
    task = ClassificationTask(ClassificationConfig(loss=task_meta.get("loss", "bce")), labels, dataset.multilabel)
    dev = resolve_device(device)
    model.to(dev).eval()
    loader = make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers)
    with autocast_for(dev, dev.type == "cuda"):
        scores, targets, loss = task.collect(model, loader)
    report = {"checkpoint": str(checkpoint), "split": split, "loss": loss,
              **M.summary_metrics(scores, targets, dataset.multilabel), "bad_clips": dataset.bad_clips,
              "per_class": M.per_class_report(scores, targets, labels)}
    if not dataset.multilabel:
        report["confusion"] = M.confusion_matrix(scores, targets).tolist()
    if out_dir is not None:
        write_report(report, labels, Path(out_dir))
    return report


def json_safe(value):
    """NaN / inf -> None (strict JSON), numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(report: dict, labels: list[str], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(json_safe(report), indent=2))
    if "confusion" in report:
        plot_confusion_matrix(np.asarray(report["confusion"]), labels, out_dir / "confusion.png",
                              f"{report['split']}: accuracy {report['accuracy']:.3f}")
    log.info("wrote %s", out_dir / "metrics.json")
