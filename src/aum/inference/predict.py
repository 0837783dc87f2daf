"""Prediction and embeddings for trained models, over files and folders: the API behind `aum predict` and
`aum embed`.

    model = aum.from_pretrained("runs/demo/best")
    model.predict(waveform, 16000)                       # one clip -> [("yes", 0.97), ("no", 0.01), ...]
    predict_files(model, audio_paths("clips/"), k=5)     # every audio file of a folder; bad files counted

Everything needed comes from the checkpoint: `model.frontend()` (the exact features the model was trained on),
`model.label_names()` and `model.scores()` (softmax or sigmoid, as it was trained). Audio longer than the training
length is cut into windows of the training length (hop: half a window) whose scores are averaged; `whole=True`
instead runs the whole clip as one sequence (the models interpolate their positional embedding; natural for AuM,
whose cost grows linearly with length).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from aum.audio import load_audio
from aum.data.examples import is_audio
from aum.errors import AudioError
from aum.fileinfo import file_problem
from aum.models import AudioModel, top_labels

log = logging.getLogger(__name__)


@torch.no_grad()
def embed_waveform(model: AudioModel, waveform, sample_rate: int, whole: bool = False,
                   hop: int | None = None) -> dict[str, np.ndarray]:
    """{"clip": (D,) pooled embedding (mean over windows), "tokens": (W, L, D) encoder outputs per window}."""
    model.eval()
    tokens = model.forward_features(model.clip_inputs(waveform, sample_rate, whole, hop))  # (W, L, D)
    clip = model.forward_head(tokens, pre_logits=True).mean(dim=0)  # (D,)
    return {"clip": clip.float().cpu().numpy(), "tokens": tokens.float().cpu().numpy()}


def audio_paths(file_or_dir: str | Path) -> list[Path]:
    """The file itself, or every audio file under the folder (recursively, sorted)."""
    path = Path(file_or_dir)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and is_audio(p))
        if not files:
            raise FileNotFoundError(f"{path}: no audio files in this folder")
        return files
    problem = file_problem(path)
    if problem == "file not found":
        raise FileNotFoundError(f"{path}: no such file or folder")
    raise AudioError(path, problem or "not an audio file or folder")


def readable_audio(paths: list[Path], sample_rate: int, bad_files: list[dict]) -> Iterator[tuple[Path, torch.Tensor]]:
    """Yield (path, waveform) for each readable file; a bad one is logged, appended to bad_files and skipped."""
    for path in paths:
        try:
            yield path, load_audio(path, sample_rate)
        except (AudioError, OSError) as e:
            log.warning("bad clip skipped: %s", e)
            bad_files.append({"file": str(path), "error": str(e)})


def predict_files(model: AudioModel, paths: list[Path], k: int = 5, whole: bool = False,
                  hop: int | None = None) -> dict:
    """{"predictions": [{"file", "top": [(label, score)...]}], "bad_files": [{"file", "error"}]}; bad files are
    skipped with a warning and counted, never fatal."""
    rate, labels = model.frontend().sample_rate, model.label_names()
    out: dict = {"predictions": [], "bad_files": []}
    for path, wav in readable_audio(paths, rate, out["bad_files"]):
        scores = model.window_scores(wav, rate, whole, hop).mean(axis=0)
        out["predictions"].append({"file": str(path), "top": top_labels(scores, labels, k)})
    return out


def embed_files(model: AudioModel, paths: list[Path], out_dir: Path, root: Path, whole: bool = False,
                tokens: bool = True) -> dict:
    """Write `<relative name>.clip.npy` (D,) and `.tokens.npy` (W, L, D) under out_dir for each readable file."""
    rate = model.frontend().sample_rate
    out: dict = {"written": 0, "bad_files": []}
    for path, wav in readable_audio(paths, rate, out["bad_files"]):
        emb = embed_waveform(model, wav, rate, whole)
        stem = Path(out_dir) / Path(path).relative_to(root).with_suffix("")
        stem.parent.mkdir(parents=True, exist_ok=True)
        np.save(f"{stem}.clip.npy", emb["clip"])
        if tokens:
            np.save(f"{stem}.tokens.npy", emb["tokens"])
        out["written"] += 1
    return out
