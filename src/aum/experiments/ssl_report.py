"""Reporting for the pretraining experiment: the results table, the closing `ssl gain:` line, and the per-epoch
pretraining curves (CSV + PNG) of every encoder."""

from __future__ import annotations

import csv
from pathlib import Path

from aum.plotting import pyplot

PRETRAIN_COLUMNS = ("loss", "nce", "mse", "masked_acc")


TASK_TITLES = {"keywords": "keyword spotting: test accuracy on unseen voices",
               "speakers": "speaker identification: test accuracy on unseen words of held-out voices"}


def format_table(summary: dict, seeds: int) -> str:
    """Per task, one line per (set, encoder): fine-tune and probe accuracy (mean ± half range over seeds) and the
    gains; then each encoder's mean gains over the sets (and the smallest)."""
    blocks = []
    for task, encoders in summary.items():
        lines = [f"{TASK_TITLES.get(task, task)}, % (mean ± half range, {seeds} seeds)",
                 f"{'set':<4} {'encoder':<8} {'fine-tune pretrained':>21} {'fine-tune scratch':>18} {'gain':>6}   "
                 f"{'probe pretrained':>17} {'probe random':>13} {'gain':>6}"]
        for encoder, by_set in encoders.items():
            for name, entry in by_set.items():
                if name == "mean":
                    continue
                ft, pr = entry["finetune"], entry["probe"]
                lines.append(f"{name!s:<4} {encoder:<8} {_cell(ft['pretrained']):>21} {_cell(ft['scratch']):>18} "
                             f"{entry['gain']['finetune']:>+6.1f}   {_cell(pr['pretrained']):>17} "
                             f"{_cell(pr['scratch']):>13} {entry['gain']['probe']:>+6.1f}")
        for encoder, by_set in encoders.items():
            mean = by_set["mean"]
            lines.append(f"{'mean':<4} {encoder:<8} {'':>21} {'':>18} {mean['gain']['finetune']:>+6.1f}   {'':>17} "
                         f"{'':>13} {mean['gain']['probe']:>+6.1f}   (smallest set gain: fine-tune "
                         f"{mean['worst']['finetune']:+.1f}, probe {mean['worst']['probe']:+.1f})")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _cell(value: tuple[float, float]) -> str:
    return f"{value[0]:.1f} ± {value[1]:.1f}"


def gain_lines(summary: dict, encoder: str, seeds: int) -> list[str]:
    """The closing lines: `encoder`'s mean gains per task."""
    lines = []
    for task, encoders in summary.items():
        mean = encoders[encoder]["mean"]
        lines.append(f"ssl gain ({task}): fine-tune {mean['gain']['finetune']:+.1f} points, linear probe "
                     f"{mean['gain']['probe']:+.1f} points ({encoder}, {mean['sets']} sets x {seeds} seeds)")
    return lines


def pretrain_epochs(run_dir: Path) -> list[dict]:
    """Per-epoch rows of a pretraining run: train loss (mean of the logged steps of the epoch) and the validation
    loss, nce, mse and masked accuracy, from the Trainer's `logs/train.csv` and `logs/eval.csv`."""
    def read(name):
        path = Path(run_dir) / "logs" / name
        if not path.is_file():  # train.csv: no step logged yet in a very short run
            return []
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    evals, train = read("eval.csv"), read("train.csv")
    rows, previous = [], 0
    for epoch, row in enumerate(evals, start=1):
        step = int(float(row["step"]))
        losses = [float(r["loss"]) for r in train if previous < int(float(r["step"])) <= step and r.get("loss")]
        rows.append({"epoch": epoch, "step": step, "train_loss": sum(losses) / len(losses) if losses else None,
                     **{f"val_{k}": float(row[k]) for k in PRETRAIN_COLUMNS if row.get(k)}})
        previous = step
    return rows


def write_pretrain_curves(runs: dict[str, Path], out: Path) -> tuple[Path, Path]:
    """`pretrain_curves.csv` (encoder, epoch, losses, masked accuracy) and `pretrain_curves.png`."""
    table = {encoder: pretrain_epochs(run_dir) for encoder, run_dir in runs.items()}
    csv_path, png_path = out / "pretrain_curves.csv", out / "pretrain_curves.png"
    fields = ["encoder", "epoch", "step", "train_loss", *(f"val_{k}" for k in PRETRAIN_COLUMNS)]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows({"encoder": encoder, **row} for encoder, rows in table.items() for row in rows)
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for encoder, rows in table.items():
        epochs = [r["epoch"] for r in rows]
        axes[0].plot(epochs, [r.get("val_masked_acc") for r in rows], "o-", label=encoder)
        axes[1].plot(epochs, [r.get("val_nce") for r in rows], "o-", label=encoder)
        axes[2].plot(epochs, [r.get("val_mse") for r in rows], "o-", label=encoder)
    for ax, title in zip(axes, ("validation masked-patch accuracy", "validation InfoNCE", "validation MSE")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return csv_path, png_path
