"""`aum serve`: a web page and a JSON endpoint to try a trained model (FastAPI; `pip install 'aum[serve]'`).

    GET  /          the page (upload a file or record from the microphone; top-k labels, spectrogram, timeline)
    GET  /static/*  its script and style, served from this package (no CDN: works offline)
    GET  /info      model name, labels, frontend, upload limit
    POST /predict   multipart field `file` (+ optional `top_k`)
                    -> {"file", "top", "duration_s", "spectrogram", "timeline"}

Bad uploads answer HTTP 4xx with {"detail": "<file>: <reason>"} and the server stays up: 400 no or empty file,
413 over the size limit (checked on Content-Length and again while reading), 422 not decodable audio or a clip
shorter than one 25 ms frame. Decoding and the model run in one worker thread, never on the event loop, so the page,
/info and health checks answer while a long upload is analysed; at most `max_pending` uploads wait or run at once,
and one more is answered 503 with a message (try again later) instead of queueing without bound.
An upload is written only into a fresh temporary folder, removed when the request ends. (No `from __future__
import annotations` here: FastAPI reads the route signatures, whose types are imported inside `create_app`.)
"""

import asyncio
import contextlib
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import numpy as np
import torch

from aum.audio import FRAME_LENGTH_MS, FRAME_SHIFT_S, AudioError, Frontend, fbank, load_audio, window_starts
from aum.devices import resolve_device
from aum.errors import ConfigError, require_extra
from aum.models import AudioModel, from_pretrained, top_labels

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
READ_CHUNK = 1 << 20
MAX_SPECTROGRAM_COLUMNS = 1200  # longer clips are max-pooled in time for display
DEFAULT_MAX_MB = 20.0
DEFAULT_MAX_PENDING = 8  # uploads decoding, running or waiting for the model; one more is answered 503
SERVE_MODULES = ("fastapi", "uvicorn", "python_multipart")  # the `aum[serve]` extra


class UploadError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def spectrogram_image(features: np.ndarray) -> dict:
    """(frames, bins) log-mel -> {"width", "height", "values"}: uint8 rows, low frequencies last (image order)."""
    frames = features.shape[0]
    if frames > MAX_SPECTROGRAM_COLUMNS:
        step = -(-frames // MAX_SPECTROGRAM_COLUMNS)
        pad = (-frames) % step
        padded = np.pad(features, ((0, pad), (0, 0)), mode="edge")
        features = padded.reshape(-1, step, features.shape[1]).max(axis=1)
    lo, hi = np.percentile(features, [2, 99.5])
    scaled = np.clip((features - lo) / max(hi - lo, 1e-6), 0, 1)
    image = (scaled.T[::-1] * 255).round().astype(np.uint8)  # (bins, columns), top row = highest band
    return {"width": int(image.shape[1]), "height": int(image.shape[0]), "values": image.ravel().tolist()}


def timeline(window_scores: np.ndarray, frames: int, frontend, labels: list[str], top_k: int) -> dict | None:
    """Per-window scores (W, C) of the clip's top labels when the clip is longer than one window, else None."""
    if frames <= frontend.target_frames:
        return None
    starts = window_starts(frames, frontend.target_frames)
    top = np.argsort(-window_scores.mean(axis=0), kind="mergesort")[:top_k]
    seconds = FRAME_SHIFT_S
    return {"window_s": frontend.target_frames * seconds, "starts_s": [round(s * seconds, 3) for s in starts],
            "labels": [labels[i] for i in top], "scores": window_scores[:, top].T.round(4).tolist()}


def analyse(model: AudioModel, waveform: np.ndarray, sample_rate: int, top_k: int) -> dict:
    """Everything the page shows for one decoded clip: top-k of the window-averaged scores, image, timeline."""
    frontend, labels = model.frontend(), model.label_names()
    per_window = model.window_scores(waveform, sample_rate)  # (W, C), windows as `aum predict` uses them
    spec = fbank(torch.as_tensor(waveform), sample_rate, frontend.num_mel_bins).numpy()  # (frames, bins), unnormalised
    top = top_labels(per_window.mean(axis=0), labels, top_k)
    return {"top": [{"label": label, "score": round(score, 4)} for label, score in top],
            "duration_s": round(len(waveform) / sample_rate, 3), "spectrogram": spectrogram_image(spec),
            "timeline": timeline(per_window, spec.shape[0], frontend, labels, min(top_k, 5))}


async def read_limited(upload, max_bytes: int) -> bytes:
    """The upload's bytes, refusing (413) as soon as they pass max_bytes."""
    data = bytearray()
    while chunk := await upload.read(READ_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise UploadError(413, f"{upload.filename}: larger than the {max_bytes / 2**20:g} MB upload limit")
    return bytes(data)


def decode_upload(name: str, data: bytes, frontend: Frontend) -> np.ndarray:
    """Write the bytes into a fresh temporary folder, decode them there (resampled, mono); the folder is removed.
    A clip shorter than one fbank frame has nothing to analyse: refused (422) with its length."""
    if not data:
        raise UploadError(400, f"{name}: the file is empty")
    wave = decode_file(name, data, frontend.sample_rate)
    if len(wave) < frontend.samples_of(1):
        raise UploadError(422, f"{name}: {len(wave)} samples ({len(wave) / frontend.sample_rate * 1000:.1f} ms) is "
                          f"shorter than one {FRAME_LENGTH_MS:g} ms frame")
    return wave


def decode_file(name: str, data: bytes, sample_rate: int) -> np.ndarray:
    """The bytes decoded through a fresh temporary folder (removed after), or 422 with load_audio's reason."""
    suffix = Path(name).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
    with tempfile.TemporaryDirectory(prefix="aum-serve-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return load_audio(path, sample_rate).numpy()
        except (AudioError, OSError, RuntimeError) as e:
            reason = str(e).replace(f"{path}: ", "")
            raise UploadError(422, f"{name}: {reason}") from None  # load_audio's reason, e.g. "not a readable ..."


def analyse_upload(model: AudioModel, frontend: Frontend, name: str, data: bytes, top_k: int) -> dict:
    """Decode one upload and analyse it (the worker thread's job)."""
    wave = decode_upload(name, data, frontend)
    return {"file": name, **analyse(model, wave, frontend.sample_rate, top_k)}


def create_app(model: AudioModel, max_mb: float = DEFAULT_MAX_MB, top_k: int = 5,
               max_pending: int = DEFAULT_MAX_PENDING):
    """The FastAPI app around one loaded model (see the module doc for the routes)."""
    require_extra("aum serve", "serve", SERVE_MODULES)
    # FastAPI is an optional extra (`aum[serve]`): imported once it is known to be there
    from fastapi import FastAPI, File, Form, Request, UploadFile
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    model.eval()
    frontend, labels = model.frontend(), model.label_names()
    max_bytes = int(max_mb * 2**20)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aum-serve-model")  # one model call at a time
    pending = 0  # uploads admitted and not yet answered; only the event loop's thread changes it

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="aum", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        length = request.headers.get("content-length")
        if request.url.path == "/predict" and length and length.isdigit() and int(length) > max_bytes + 65536:
            return JSONResponse({"detail": f"upload of {int(length) / 2**20:.1f} MB is over the "
                                 f"{max_mb:g} MB limit"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, error: UploadError):
        log.warning("refused upload: %s", error)
        return JSONResponse({"detail": str(error)}, status_code=error.status)

    @app.get("/")
    def page():
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/info")
    def info():
        return {"model": model.model_name, "labels": labels, "frontend": frontend.to_dict(), "top_k": top_k,
                "max_upload_mb": max_mb}

    @app.post("/predict")
    async def predict(file: Annotated[UploadFile | None, File()] = None,
                      top_k_form: Annotated[int | None, Form(alias="top_k")] = None):
        if file is None:
            raise UploadError(400, "no file: send the audio as the multipart field 'file'")
        nonlocal pending
        name = Path(file.filename or "upload").name
        if pending >= max_pending:
            raise UploadError(503, f"{name}: the server is busy ({pending} uploads being analysed or waiting, the "
                              f"limit); try again in a moment")
        pending += 1
        try:
            data = await read_limited(file, max_bytes)
            k = max(1, min(top_k_form or top_k, len(labels)))
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(worker, analyse_upload, model, frontend, name, data, k)
        finally:
            pending -= 1

    return app


def serve(checkpoint: str, host: str = "127.0.0.1", port: int = 8000, max_mb: float = DEFAULT_MAX_MB,
          top_k: int = 5, device: str = "cpu", max_pending: int = DEFAULT_MAX_PENDING) -> None:
    """Load the checkpoint and run the app with uvicorn until interrupted."""
    require_extra("aum serve", "serve", SERVE_MODULES)
    import uvicorn  # optional extra, checked above

    if top_k < 1 or max_mb <= 0 or max_pending < 1:
        raise ConfigError(f"--top-k {top_k} / --max-mb {max_mb:g} / --max-pending {max_pending}: all must be positive")
    app = create_app(from_pretrained(checkpoint).to(resolve_device(device)), max_mb=max_mb, top_k=top_k,
                     max_pending=max_pending)
    log.info("serving %s on http://%s:%d", checkpoint, host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")
