"""`aum serve` through FastAPI's test client: the page and its local assets, POST /predict JSON (labels, image,
timeline for long clips), and 4xx answers on bad uploads (no file, empty, not audio, over the size limit, shorter
than one frame) after which the app still answers; a long analysis does not block other requests, and uploads past
the pending limit are answered 503. Uploads land only in a temporary folder that is gone afterwards."""

from __future__ import annotations

import asyncio
import io
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("fastapi", reason="aum serve needs 'aum[serve]' (fastapi, uvicorn, python-multipart)")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx (aum[webtest])")

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import aum.inference.serve as serve_module  # noqa: E402
from aum.audio import Frontend  # noqa: E402
from aum.inference.serve import UploadError, create_app, read_limited  # noqa: E402
from aum.models import create_model  # noqa: E402


def tiny_model():
    torch.manual_seed(0)
    m = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=3, input_frames=48, mel_bins=32)
    m.meta = {"labels": ["hum", "hiss", "click"], "task": {"name": "classification", "loss": "ce"},
              "frontend": Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32).to_dict()}
    return m


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(tiny_model(), max_mb=0.25, top_k=2))


def wav_bytes(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_page_and_assets_are_local(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="labels"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert client.get("/info").json()["labels"] == ["hum", "hiss", "click"]


def test_predict_short_and_long_clips(client):
    short = client.post("/predict", files={"file": ("tone.wav", wav_bytes(0.4), "audio/wav")}).json()
    assert len(short["top"]) == 2 and short["top"][0]["label"] in ("hum", "hiss", "click")
    assert short["timeline"] is None
    spec = short["spectrogram"]
    assert spec["height"] == 32 and len(spec["values"]) == spec["width"] * spec["height"]
    long = client.post("/predict", files={"file": ("long.wav", wav_bytes(2.0, 8000), "audio/wav")},
                       data={"top_k": "3"}).json()
    assert len(long["top"]) == 3 and abs(long["duration_s"] - 2.0) < 0.01
    timeline = long["timeline"]
    assert len(timeline["labels"]) == 3 and len(timeline["scores"][0]) == len(timeline["starts_s"]) > 2


@pytest.mark.parametrize("files,status,message", [
    (None, 400, "no file"),
    ({"file": ("empty.wav", b"", "audio/wav")}, 400, "empty.wav: the file is empty"),
    ({"file": ("notes.wav", b"this is not audio" * 10, "audio/wav")}, 422, "notes.wav: not a readable audio"),
    ({"file": ("big.wav", b"\0" * 400_000, "audio/wav")}, 413, "limit"),
    ({"file": ("tiny.wav", wav_bytes(8 / 16000), "audio/wav")}, 422, "tiny.wav: 8 samples (0.5 ms) is shorter"),
])
def test_bad_uploads_are_4xx_with_a_message_and_the_app_stays_up(client, files, status, message, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this test's uploads only, whatever else runs
    before = set(Path(tempfile.gettempdir()).glob("aum-serve-*"))
    response = client.post("/predict", files=files) if files else client.post("/predict", data={"x": "1"})
    assert response.status_code == status and message in response.json()["detail"]
    assert set(Path(tempfile.gettempdir()).glob("aum-serve-*")) == before  # the upload folder is gone
    assert client.post("/predict", files={"file": ("ok.wav", wav_bytes(0.3), "audio/wav")}).status_code == 200


def test_streamed_upload_over_the_limit_is_refused_while_reading():
    class Upload:  # no Content-Length: the limit must hold while reading
        filename = "stream.wav"
        left = 5

        async def read(self, n):
            self.left -= 1
            return b"\0" * 100_000 if self.left >= 0 else b""

    with pytest.raises(UploadError, match="stream.wav: larger than"):
        asyncio.run(read_limited(Upload(), 250_000))


def test_analysis_runs_off_the_event_loop_and_a_full_queue_is_503(monkeypatch):
    """While one upload is being analysed (held here on an event), /info answers at once, a second upload past
    max_pending=1 is 503 with a message, and the first completes once released."""
    release, started = threading.Event(), threading.Event()
    real = serve_module.analyse

    def slow_analyse(*args):
        started.set()
        assert release.wait(10), "the test never released the analysis"
        return real(*args)

    monkeypatch.setattr(serve_module, "analyse", slow_analyse)
    app = create_app(tiny_model(), max_mb=0.25, top_k=2, max_pending=1)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://aum") as client:
            upload = {"file": ("tone.wav", wav_bytes(0.4), "audio/wav")}
            first = asyncio.create_task(client.post("/predict", files=upload))
            await asyncio.to_thread(started.wait, 10)
            info = await asyncio.wait_for(client.get("/info"), timeout=5)  # the loop is free
            busy = await asyncio.wait_for(client.post("/predict", files=upload), timeout=5)
            release.set()
            return info, busy, await asyncio.wait_for(first, timeout=20)

    info, busy, first = asyncio.run(scenario())
    assert info.status_code == 200 and not first.is_error
    assert busy.status_code == 503 and busy.json()["detail"].startswith("tone.wav: the server is busy")
    assert first.json()["file"] == "tone.wav" and len(first.json()["top"]) == 2
