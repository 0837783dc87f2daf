import numpy as np
import pytest
import torch

from aum.audio import Frontend, windows
from aum.audio.arrays import to_mono
from aum.inference.predict import embed_waveform
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


def test_clip_inputs_pad_short_clips_resample_and_window_long_ones(model):
    assert model.clip_inputs(np.zeros(1600, dtype=np.float32) + 0.01, 16000).shape == (1, 48, 32)
    long = np.random.default_rng(0).standard_normal(8000 * 2).astype(np.float32)
    assert model.clip_inputs(long, 8000, whole=True).shape == (1, 198, 32)  # 2 s at 8 kHz -> 16 kHz -> 198 frames
    assert model.clip_inputs(long, 8000).shape == (8, 48, 32)  # windows at 0, 24, ..., 144 and one at 150


def test_predict_long_clip_windows_and_whole(model):
    wav = np.random.default_rng(1).standard_normal(32000).astype(np.float32) * 0.1
    top = model.predict(wav, 16000, top_k=2)
    assert len(top) == 2 and all(label in "abc" for label, _ in top) and top[0][1] >= top[1][1]
    fb = Frontend.from_dict(model.meta["frontend"]).whole(to_mono(wav), 16000)
    expected = torch.sigmoid(model(windows(fb, 48))).mean(0).detach().numpy()
    np.testing.assert_allclose(model.window_scores(wav, 16000).mean(0), expected, rtol=1e-5, atol=1e-6)
    assert dict(model.predict(wav, 16000, top_k=3)) == pytest.approx(dict(zip("abc", expected.tolist())), rel=1e-5)
    assert model.window_scores(wav, 16000, whole=True).shape == (1, 3)


def test_scores_follow_the_training_loss(model):
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    torch.testing.assert_close(model.scores(logits), torch.sigmoid(logits))
    ce = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=3, input_frames=48, mel_bins=32)
    ce.meta = {"task": {"loss": "ce"}}
    torch.testing.assert_close(ce.scores(logits), torch.softmax(logits, dim=-1))


def test_embed_shapes(model):  # 1 s = 98 frames: windows at 0, 24, 48, 50
    emb = embed_waveform(model, np.zeros(16000, dtype=np.float32) + 0.01, 16000)
    assert emb["clip"].shape == (32,) and emb["tokens"].shape[0] == 4 and emb["tokens"].shape[2] == 32


def test_model_without_frontend_meta_is_a_clear_error():
    m = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=2, input_frames=48, mel_bins=32)
    with pytest.raises(ValueError, match="meta\\['frontend'\\]"):
        m.predict(np.zeros(16000, dtype=np.float32), 16000)
