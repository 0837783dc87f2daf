"""Model cards: the `README.md` that `save_pretrained` writes beside the weights (a Hub-style folder).

The card is built only from what the folder holds: the model name and config, and `meta` (labels, frontend, task,
and under "trained" what `aum train` records: epoch, step, the data set (format, root, splits) and the validation
metrics of the saved model). Loading the folder needs no network: the card says how.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aum.audio import FRAME_SHIFT_S

if TYPE_CHECKING:
    from aum.models.base import AudioModel

CARD = "README.md"
MAX_LISTED_LABELS = 50
CONFIG_FIELDS = ("embed_dim", "depth", "patch_size", "patch_stride", "input_frames", "mel_bins", "num_classes",
                 "cls_position", "pool", "aum_type", "num_heads")
FAMILIES = {"aum": "Audio Mamba (AuM)", "ssamba": "SSAMBA (self-supervised Audio Mamba)",
            "ast": "Audio Spectrogram Transformer (AST)", "ssast": "SSAST (self-supervised AST)"}


def training_record(epoch: int, step: int, data_cfg: dict, splits: dict, metrics: dict | None) -> dict:
    """meta["trained"] for a checkpoint: where it stopped, on which data, and its scalar validation metrics."""
    data = {k: data_cfg[k] for k in ("format", "root") if data_cfg.get(k) is not None}
    scalars = {k: float(v) for k, v in (metrics or {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}
    return {"epoch": epoch, "step": step, "data": {**data, **splits}, "metrics": scalars}


def _labels_text(labels: list[str]) -> str:
    shown = ", ".join(f"`{label}`" for label in labels[:MAX_LISTED_LABELS])
    hidden = len(labels) - MAX_LISTED_LABELS
    more = f" … and {hidden} more (all in `config.json`)" if hidden > 0 else ""
    return f"{len(labels)} labels: {shown}{more}"


def _table(rows: dict) -> list[str]:
    return ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows.items()]]


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def model_card(model_name: str, config: dict, meta: dict, parameters: int) -> str:
    """The card's Markdown text."""
    meta = meta or {}
    task, frontend, trained = meta.get("task") or {}, meta.get("frontend"), meta.get("trained") or {}
    family = FAMILIES.get(model_name.split("_")[0], model_name)
    lines = ["---", "library_name: aum", "tags: [audio, audio-classification, " + model_name.split("_")[0] + "]",
             "---", "", f"# {model_name}", "",
             f"{family}: an audio model with {parameters / 1e6:.2f} M parameters, saved by `aum` "
             "(`model.safetensors` + `config.json`).", "", "## Model", ""]
    lines += _table({k: config[k] for k in CONFIG_FIELDS if k in config})
    lines += ["", "## Labels", ""]
    labels = meta.get("labels")
    lines.append(_labels_text(labels) if labels else f"No label names saved ({config.get('num_classes')} outputs).")
    if task:
        scores = "softmax (one label per clip)" if task.get("loss") == "ce" else "sigmoid (multi-label)"
        lines += ["", f"Task: {task.get('name', '?')}, loss `{task.get('loss', '?')}`; scores are {scores}."]
    lines += ["", "## Frontend", ""]
    if frontend:
        seconds = frontend["target_frames"] * FRAME_SHIFT_S
        lines.append(f"Kaldi fbank, {frontend['num_mel_bins']} mel bins, 25 ms windows every 10 ms, at "
                     f"{frontend['sample_rate']} Hz; {frontend['target_frames']} frames per window "
                     f"({seconds:g} s); normalised as `(fbank - {frontend['mean']:.4g}) / "
                     f"(2 * {frontend['std']:.4g})`. Longer clips are scored in windows (hop: half a window).")
    else:
        lines.append("Not saved: give `meta['frontend']` to predict from waveforms.")
    lines += ["", "## Training", ""]
    if trained:
        data = trained.get("data") or {}
        lines += _table({"stopped at": f"epoch {trained.get('epoch')}, step {trained.get('step')}",
                         **{f"data {k}": f"`{v}`" for k, v in data.items()}})
        metrics = trained.get("metrics") or {}
        lines += ["", "Validation metrics of this model:" if metrics else "No validation metrics were recorded."]
        if metrics:
            lines += ["", *_table({k: _fmt(v) for k, v in metrics.items()})]
    else:
        lines.append("Not recorded (saved outside `aum train`).")
    lines += ["", "## How to load", "", "Everything is in this folder; nothing is downloaded.", "", "```python",
              "import aum", "", "model = aum.from_pretrained(\"THIS_FOLDER\")",
              "print(model.predict(aum.load_audio(\"clip.wav\"), 16000, top_k=5))", "```", "", "```bash",
              "aum predict clip.wav --checkpoint THIS_FOLDER", "aum serve --checkpoint THIS_FOLDER   # web page",
              "aum export --checkpoint THIS_FOLDER --format onnx", "```", "",
              "HEAR 2021 API: `aum.inference.hear.load_model(\"THIS_FOLDER\")`.", ""]
    return "\n".join(lines)


def write_model_card(model: AudioModel, directory: str | Path, meta: dict[str, Any]) -> Path:
    """Write `README.md` into a save_pretrained folder."""
    path = Path(directory) / CARD
    parameters = sum(p.numel() for p in model.parameters())
    path.write_text(model_card(model.model_name, model.config.to_dict(), meta, parameters))
    return path
