"""PNG figures: training curves from the run's CSV logs, and a confusion matrix (matplotlib, Agg backend)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from aum.plotting import pyplot


def _read_csv(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in rows:
        if r.get(key) not in (None, ""):
            xs.append(float(r["step"]))
            ys.append(float(r[key]))
    return xs, ys


def plot_training_curves(log_dir: Path, out_png: Path, metric: str) -> Path:
    """Train loss, learning rate, validation loss and the selection metric against the optimizer step."""
    plt = pyplot()
    train, evals = _read_csv(Path(log_dir) / "train.csv"), _read_csv(Path(log_dir) / "eval.csv")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(*_series(train, "loss"), label="train")
    axes[0].plot(*_series(evals, "loss"), "o-", label="validation")
    axes[0].set_title("loss")
    axes[0].legend()
    axes[1].plot(*_series(train, "lr"))
    axes[1].set_title("learning rate")
    axes[2].plot(*_series(evals, metric), "o-")
    axes[2].set_title(f"validation {metric}")
    for ax in axes:
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def plot_confusion_matrix(cm: np.ndarray, labels: list[str], out_png: Path, title: str = "") -> Path:
    plt = pyplot()
    n = len(labels)
    size = min(4 + 0.35 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8 if n > 20 else 10)
    ax.set_yticks(range(n), labels, fontsize=8 if n > 20 else 10)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (row-normalised)")
    if n <= 40:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
