import numpy as np
import pytest
import torch

from aum.audio import Frontend
from aum.inference import clip_scores, embed_waveform, features, predict_waveform, windows
from aum.models import create_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=3, input_frames=48, mel_bins=32).eval()
    m.meta = {"labels": ["a", "b", "c"], "task": {"name": "classification", "loss": "bce", "multilabel": False},
              "frontend": Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32).to_dict()}
    return m


def test_windows_cover_the_clip_and_end_at_its_end():
    fb = torch.arange(130.0)[:, None].expand(130, 4)
    w = windows(fb, 48, hop=24)
    assert w.shape == (5, 48, 4)  # starts 0, 24, 48, 72 and a last one at 82
    assert w[0, 0, 0] == 0 and w[-1, -1, 0] == 129 and w[-1, 0, 0] == 82
    assert windows(fb[:48], 48).shape == (1, 48, 4)


def test_features_pad_short_clips_and_resample():
    fe = Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32)
    assert features(np.zeros(1600, dtype=np.float32) + 0.01, 16000, fe).shape == (48, 32)
    long = features(np.random.default_rng(0).standard_normal(8000 * 2).astype(np.float32), 8000, fe)
    assert long.shape == (198, 32)  # 2 s at 8 kHz -> 16 kHz -> 198 frames


def test_predict_long_clip_windows_and_whole(model):
    wav = np.random.default_rng(1).standard_normal(32000).astype(np.float32) * 0.1
    top = predict_waveform(model, wav, 16000, top_k=2)
    assert len(top) == 2 and all(label in "abc" for label, _ in top) and top[0][1] >= top[1][1]
    assert model.predict(wav, 16000, top_k=3)[0] == predict_waveform(model, wav, 16000, top_k=3)[0]
    fb = features(wav, 16000, Frontend.from_dict(model.meta["frontend"]))
    expected = torch.sigmoid(model(windows(fb, 48))).mean(0).detach().numpy()
    np.testing.assert_allclose(clip_scores(model, wav, 16000), expected, rtol=1e-5, atol=1e-6)
    assert clip_scores(model, wav, 16000, whole=True).shape == (3,)


def test_embed_shapes(model):  # 1 s = 98 frames: windows at 0, 24, 48, 50
    emb = embed_waveform(model, np.zeros(16000, dtype=np.float32) + 0.01, 16000)
    assert emb["clip"].shape == (32,) and emb["tokens"].shape[0] == 4 and emb["tokens"].shape[2] == 32


def test_model_without_frontend_meta_is_a_clear_error():
    m = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=2, input_frames=48, mel_bins=32)
    with pytest.raises(ValueError, match="meta\\['frontend'\\]"):
        predict_waveform(m, np.zeros(16000, dtype=np.float32), 16000)
