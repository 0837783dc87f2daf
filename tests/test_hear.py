"""HEAR 2021 API (`aum.inference.hear`): the official `hearvalidator` checks on a saved checkpoint, plus what they
do not check (regular timestamps covering the clip, batching, agreement with `aum embed`).

hearvalidator imports tensorflow at module level but uses it only for TensorFlow models; where tensorflow is not
installed (CI does not install it: a large download for an unused code path) a stub module stands in for it, and
the validator's PyTorch checks run unchanged."""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

from aum.audio import Frontend
from aum.inference import hear
from aum.inference.predict import embed_waveform
from aum.models import create_model, save_pretrained


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    m = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=3, input_frames=48, mel_bins=32)
    m.meta = {"labels": ["a", "b", "c"], "task": {"name": "classification", "loss": "ce"},
              "frontend": Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32).to_dict()}
    return save_pretrained(m, tmp_path_factory.mktemp("hear") / "ckpt")


def official_validator(monkeypatch):
    if importlib.util.find_spec("tensorflow") is None:
        monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(Module=type("Module", (), {})))
    return pytest.importorskip("hearvalidator.validate", reason="pip install 'aum[dev]' (hearvalidator --no-deps)")


def test_official_hearvalidator_passes(checkpoint, monkeypatch, capsys):
    validate = official_validator(monkeypatch)
    validate.ValidateModel("aum.inference.hear", str(checkpoint), device="cpu")()
    out = capsys.readouterr().out
    assert "Checking get_scene_embeddings" in out and "Interval between timestamps is 50.0ms" in out


def test_timestamps_cover_the_clip_and_batches_agree(checkpoint):
    model = hear.load_model(str(checkpoint), hop_ms=25.0)
    audio = torch.rand(3, 16000 + 777) * 2 - 1  # 1.05 s
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape == (3, ts.shape[1], 32) and emb.dtype == torch.float32
    assert ts[0, 0] == 0 and 1048.6 - 25 < ts[0, -1] <= 1048.6 and torch.allclose(ts.diff(), torch.tensor(25.0))
    model.batch_size = 1
    emb1, _ = hear.get_timestamp_embeddings(audio, model)
    torch.testing.assert_close(emb1, emb, rtol=1e-4, atol=1e-5)
    scene = hear.get_scene_embeddings(audio, model)
    expected = np.stack([embed_waveform(model.model, a.numpy(), 16000)["clip"] for a in audio])  # = aum embed
    np.testing.assert_allclose(scene.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_interpolation_hits_the_columns_exactly():
    columns = torch.arange(12.0).view(1, 4, 3)  # 4 columns at 80, 240, 400, 560 ms
    at = hear._interpolate(columns, torch.tensor([80.0, 240, 400, 560]), torch.tensor([0.0, 240, 320, 999]))
    torch.testing.assert_close(at[0], torch.tensor([[0.0, 1, 2], [3, 4, 5], [4.5, 5.5, 6.5], [9, 10, 11]]))


def test_bad_calls_are_clear_errors(checkpoint):
    with pytest.raises(ValueError, match="needs a checkpoint folder"):
        hear.load_model("")
    with pytest.raises(ValueError, match="n_sounds, samples"):
        hear.get_scene_embeddings(torch.zeros(1, 2, 16000), hear.load_model(str(checkpoint)))
