"""Timeline results out: a rich table of events, CSV of the window scores, and a PNG (spectrogram with the top
classes' scores over time beneath it). The results are those of `aum.inference.timeline.timeline_files`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from aum.plotting import pyplot


def events_table(result: dict) -> None:
    table = Table(title="events (adjacent windows above the threshold, merged)")
    for column in ("file", "label", "start s", "end s", "score"):
        table.add_column(column)
    for tl in result["timelines"]:
        for e in tl["events"]:
            table.add_row(tl["file"], e["label"], f"{e['start']:.2f}", f"{e['end']:.2f}", f"{e['score']:.2f}")
        if not tl["events"]:
            table.add_row(tl["file"], "(none)", "", "", "")
    console = Console()
    console.print(table)
    for tl in result["timelines"]:
        print(f"{tl['file']}: {tl['duration']:.1f} s, {len(tl['windows'])} windows, {len(tl['events'])} events")
        if tl.get("error"):
            print(f"  stopped early: {tl['error']}")
    if result["bad_files"]:
        print(f"{len(result['bad_files'])} file(s) skipped (unreadable): "
              + ", ".join(b["file"] for b in result["bad_files"]))


def windows_csv(result: dict) -> str:
    """One row per window: file, start, end, then one score column per label."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    labels = next((list(tl["windows"][0]["scores"]) for tl in result["timelines"] if tl["windows"]), [])
    writer.writerow(["file", "start", "end", *labels])
    for tl in result["timelines"]:
        for w in tl["windows"]:
            writer.writerow([tl["file"], w["start"], w["end"], *(w["scores"][label] for label in labels)])
    return buffer.getvalue()


def json_ready(result: dict) -> dict:
    """The result without the plot-only spectrogram arrays."""
    return {**result, "timelines": [{k: v for k, v in tl.items() if k != "spectrogram"}
                                    for tl in result["timelines"]]}


def plot_timeline(timeline: dict, out: str | Path, top: int = 5, threshold: float | None = None) -> Path:
    """PNG: the (pooled) log-mel spectrogram on top, the `top` classes' window scores over time beneath."""
    plt = pyplot()

    windows = timeline["windows"]
    labels = list(windows[0]["scores"]) if windows else []
    scores = np.array([[w["scores"][label] for label in labels] for w in windows]) if windows else np.zeros((0, 0))
    order = np.argsort(-scores.max(axis=0))[:top] if windows else np.zeros(0, dtype=int)
    centers = np.array([(w["start"] + w["end"]) / 2 for w in windows])
    fig, (ax_spec, ax_scores) = plt.subplots(2, 1, figsize=(12, 6), sharex=True,
                                             gridspec_kw={"height_ratios": [1, 1]})
    if "spectrogram" in timeline:
        image, seconds_per_column = timeline["spectrogram"]
        ax_spec.imshow(image, origin="lower", aspect="auto", cmap="magma",
                       extent=(0, image.shape[1] * seconds_per_column, 0, image.shape[0]))
    ax_spec.set_ylabel("mel bin")
    ax_spec.set_title(Path(timeline["file"]).name)
    for i in order:
        ax_scores.plot(centers, scores[:, i], label=labels[i], linewidth=1, marker="o" if len(windows) < 50 else None)
    if threshold is not None:
        ax_scores.axhline(threshold, color="grey", linestyle=":", linewidth=1)
    ax_scores.set_ylim(0, 1.02)
    ax_scores.set_xlim(0, max(timeline["duration"], 1e-3))
    ax_scores.set_xlabel("time (s)")
    ax_scores.set_ylabel("score")
    if len(order):
        ax_scores.legend(loc="upper right", fontsize=8, ncol=min(len(order), 5))
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_paths(out: str | Path, count: int, files: list[str]) -> list[Path]:
    """One PNG per file: `out` itself for a single file, `<out stem>.<file stem>.png` for several."""
    out = Path(out)
    if count == 1:
        return [out]
    return [out.with_name(f"{out.stem}.{Path(f).stem}{out.suffix or '.png'}") for f in files]
