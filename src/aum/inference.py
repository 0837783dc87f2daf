"""Prediction and embeddings for trained models: the Python API behind `aum predict` and `aum embed`.

    model = aum.from_pretrained("runs/demo/best")
    model.predict(waveform, 16000)            # -> [("yes", 0.97), ("no", 0.01), ...]  (predict_waveform)

Everything needed comes from the checkpoint: `model.meta["frontend"]` (the exact features the model was trained
on) and `model.meta["labels"]`. Audio longer than the training length is cut into windows of the training length
(hop: half a window) whose scores are averaged; `whole=True` instead runs the whole clip as one sequence (the
models interpolate their positional embedding; natural for AuM, whose cost grows linearly with length).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from aum.errors import ConfigError

log = logging.getLogger(__name__)


def frontend_of(model):
    from aum.audio import Frontend

    meta = getattr(model, "meta", None) or {}
    if "frontend" not in meta:
        raise ConfigError("this model has no meta['frontend']; it was not saved by `aum train` (save it with "
                         "save_pretrained(model, dir, meta={'frontend': Frontend(...).to_dict(), 'labels': [...]})")
    return Frontend.from_dict(meta["frontend"])


def labels_of(model) -> list[str]:
    labels = (getattr(model, "meta", None) or {}).get("labels")
    if not labels:
        n = model.config.num_classes
        log.warning("model has no meta['labels']: using class indices 0..%d", n - 1)
        return [str(i) for i in range(n)]
    return list(labels)


def features(waveform, sample_rate: int, frontend) -> torch.Tensor:
    """Normalised fbank of the whole clip (frames, bins), zero-padded up to the training length if shorter."""
    from aum.audio.arrays import to_mono

    # (samples,), (channels, samples) or (samples, channels); int PCM scaled; finite. The frontend owns the rest.
    return frontend.whole(to_mono(waveform), sample_rate)


def windows(fb: torch.Tensor, length: int, hop: int | None = None) -> torch.Tensor:
    """(frames, bins) -> (W, length, bins): windows every `hop` frames, the last one ending at the clip's end."""
    return torch.stack([fb[s:s + length] for s in window_starts(fb.shape[0], length, hop)])


def window_starts(frames: int, length: int, hop: int | None = None) -> list[int]:
    """First frame of each window (see `windows`)."""
    if hop is not None and hop <= 0:
        from aum.errors import ConfigError

        raise ConfigError(f"hop must be a positive number of frames, got {hop}")
    hop = hop or max(1, length // 2)
    starts = list(range(0, max(frames - length, 0) + 1, hop))
    if starts[-1] + length < frames:
        starts.append(frames - length)
    return starts


def _model_inputs(model, waveform, sample_rate: int, whole: bool, hop: int | None) -> torch.Tensor:
    frontend = frontend_of(model)
    fb = features(waveform, sample_rate, frontend)
    x = fb.unsqueeze(0) if whole else windows(fb, frontend.target_frames, hop)  # (W, T, F)
    return x.to(next(model.parameters()).device)


def _activation(model) -> str:
    task = (getattr(model, "meta", None) or {}).get("task") or {}
    return "softmax" if task.get("loss") == "ce" else "sigmoid"


@torch.no_grad()
def clip_scores(model, waveform, sample_rate: int, whole: bool = False, hop: int | None = None,
                batch_size: int = 16) -> np.ndarray:
    """(classes,) scores of one clip: window scores (sigmoid, or softmax for CE-trained models) averaged."""
    return window_scores(model, waveform, sample_rate, whole, hop, batch_size).mean(axis=0)


@torch.no_grad()
def window_scores(model, waveform, sample_rate: int, whole: bool = False, hop: int | None = None,
                  batch_size: int = 16) -> np.ndarray:
    """(W, classes) scores of each window (`window_starts` gives their first frames); W = 1 when whole."""
    model.eval()
    x = _model_inputs(model, waveform, sample_rate, whole, hop)
    act = torch.softmax if _activation(model) == "softmax" else (lambda t, dim: torch.sigmoid(t))
    return torch.cat([act(model(chunk).float(), dim=-1) for chunk in x.split(batch_size)]).cpu().numpy()


def top_labels(scores: np.ndarray, labels: list[str], k: int = 5) -> list[tuple[str, float]]:
    order = np.argsort(-scores, kind="mergesort")[: max(1, k)]
    return [(labels[i], float(scores[i])) for i in order]


def predict_waveform(model, waveform, sample_rate: int, top_k: int = 5, whole: bool = False,
                     hop: int | None = None) -> list[tuple[str, float]]:
    """Top-k (label, score) of one waveform (samples,) at `sample_rate` (resampled to the model's rate)."""
    return top_labels(clip_scores(model, waveform, sample_rate, whole, hop), labels_of(model), top_k)


@torch.no_grad()
def embed_waveform(model, waveform, sample_rate: int, whole: bool = False, hop: int | None = None) -> dict:
    """{"clip": (D,) pooled embedding (mean over windows), "tokens": (W, L, D) encoder outputs per window}."""
    model.eval()
    x = _model_inputs(model, waveform, sample_rate, whole, hop)
    tokens = model.forward_features(x)  # (W, L, D)
    clip = model.forward_head(tokens, pre_logits=True).mean(dim=0)  # (D,)
    return {"clip": clip.float().cpu().numpy(), "tokens": tokens.float().cpu().numpy()}


def audio_paths(file_or_dir: str | Path) -> list[Path]:
    """The file itself, or every audio file under the folder (recursively, sorted)."""
    from aum.data.examples import is_audio
    from aum.errors import AudioError

    path = Path(file_or_dir)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and is_audio(p))
        if not files:
            raise FileNotFoundError(f"{path}: no audio files in this folder")
        return files
    from aum.fileinfo import file_problem

    problem = file_problem(path)
    if problem == "file not found":
        raise FileNotFoundError(f"{path}: no such file or folder")
    raise AudioError(path, problem or "not an audio file or folder")


def readable_audio(paths: list[Path], sample_rate: int, bad_files: list):
    """Yield (path, waveform) for each readable file; a bad one is logged, appended to bad_files and skipped."""
    from aum.audio import AudioError, load_audio

    for path in paths:
        try:
            yield path, load_audio(path, sample_rate)
        except (AudioError, OSError) as e:
            log.warning("bad clip skipped: %s", e)
            bad_files.append({"file": str(path), "error": str(e)})


def predict_files(model, paths: list[Path], k: int = 5, whole: bool = False, hop: int | None = None) -> dict:
    """{"predictions": [{"file", "top": [(label, score)...]}], "bad_files": [{"file", "error"}]}; bad files are
    skipped with a warning and counted, never fatal."""
    frontend, labels = frontend_of(model), labels_of(model)
    out: dict = {"predictions": [], "bad_files": []}
    for path, wav in readable_audio(paths, frontend.sample_rate, out["bad_files"]):
        scores = clip_scores(model, wav, frontend.sample_rate, whole, hop)
        out["predictions"].append({"file": str(path), "top": top_labels(scores, labels, k)})
    return out


def embed_files(model, paths: list[Path], out_dir: Path, root: Path, whole: bool = False,
                tokens: bool = True) -> dict:
    """Write `<relative name>.clip.npy` (D,) and `.tokens.npy` (W, L, D) under out_dir for each readable file."""
    frontend = frontend_of(model)
    out: dict = {"written": 0, "bad_files": []}
    for path, wav in readable_audio(paths, frontend.sample_rate, out["bad_files"]):
        emb = embed_waveform(model, wav, frontend.sample_rate, whole)
        stem = Path(out_dir) / Path(path).relative_to(root).with_suffix("")
        stem.parent.mkdir(parents=True, exist_ok=True)
        np.save(f"{stem}.clip.npy", emb["clip"])
        if tokens:
            np.save(f"{stem}.tokens.npy", emb["tokens"])
        out["written"] += 1
    return out
