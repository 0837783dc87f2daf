"""Bad inputs get a one-line answer naming the cause, never a wrong result: arrays given to `model.predict`, odd
paths (symlink loop, FIFO, unreadable), empty waveforms, impossible frontend settings, label files, stale cache."""

import os

import numpy as np
import pytest
import torch

import aum
from aum.audio import AudioError, Frontend, load_audio, windows
from aum.audio.arrays import to_mono
from aum.data import ClipDataset, DataFormatError, Example, read_label_csv
from aum.data.cache import FeatureCache
from aum.errors import AumError, ConfigError
from aum.models import create_model
from aum.train import load_config


@pytest.fixture(scope="module")
def model():  # 4 classes, no task meta (sigmoid scores)
    torch.manual_seed(1)
    frontend = Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32)
    net = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=4, input_frames=48, mel_bins=32)
    net.meta = {"labels": list("wxyz"), "frontend": frontend.to_dict()}
    return net.eval()


@pytest.fixture(scope="module")
def stereo():
    rng = np.random.default_rng(3)
    return (rng.standard_normal((2, 8000)) * 0.2).astype(np.float32)  # (channels, samples)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_refuses_non_finite_samples(model, bad):
    wav = np.zeros(8000, dtype=np.float32)
    wav[100] = bad
    with pytest.raises(AudioError, match=r"waveform: contains non-finite samples \(NaN or Inf\)"):
        model.predict(wav, 16000)
    with pytest.raises(AudioError, match="non-finite"):
        model.predict(torch.from_numpy(np.stack([wav, wav])), 16000)


def clip_scores(model, waveform, sample_rate):
    return model.window_scores(waveform, sample_rate).mean(axis=0)


def test_samples_channels_and_channels_samples_give_the_same_scores(model, stereo):
    expected = clip_scores(model, stereo.mean(axis=0), 16000)
    np.testing.assert_allclose(clip_scores(model, stereo, 16000), expected, rtol=1e-6)
    np.testing.assert_allclose(clip_scores(model, stereo.T, 16000), expected, rtol=1e-6)  # soundfile's layout
    np.testing.assert_allclose(clip_scores(model, torch.from_numpy(stereo.T.copy()), 16000), expected, rtol=1e-6)


def test_integer_pcm_is_scaled_by_its_full_scale(model, stereo):
    pcm = np.round(stereo.T * 32767).astype(np.int16)  # (samples, channels) int16, as soundfile(dtype="int16")
    expected = clip_scores(model, pcm.astype(np.float32) / 32768.0, 16000)
    np.testing.assert_allclose(clip_scores(model, pcm, 16000), expected, rtol=1e-5, atol=1e-6)
    assert to_mono(np.array([0, 128, 255], dtype=np.uint8)).tolist() == [-1.0, 0.0, 127 / 128]
    assert to_mono(np.array([-2**31], dtype=np.int32)).tolist() == [-1.0]


@pytest.mark.parametrize("shape", [(2, 2), (64, 64), (40, 50), (2, 3, 100)])
def test_ambiguous_or_unknown_layouts_are_refused(model, shape):
    with pytest.raises(AudioError, match="waveform: .*(ambiguous|expected)"):
        model.predict(np.zeros(shape, dtype=np.float32) + 0.1, 16000)


def test_empty_waveform_is_refused(model):
    with pytest.raises(AudioError, match="no audio samples"):
        model.predict(np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(ValueError, match=r"empty waveform .*0 samples"):
        aum.fbank(torch.zeros(0))
    with pytest.raises(ValueError, match="empty waveform"):
        aum.fbank(torch.zeros(3, 0))


def test_a_non_positive_hop_is_refused():
    with pytest.raises(ConfigError, match="hop must be a positive number of frames, got -5"):
        windows(torch.zeros(100, 4), 48, hop=-5)


@pytest.mark.parametrize(("override", "message"), [
    ("frontend.target_frames=0", "frontend.target_frames=0: must be >= 1"),
    ("frontend.num_mel_bins=2", "frontend.num_mel_bins=2: must be >= 3"),
    ("frontend.sample_rate=0", "frontend.sample_rate=0"),
    ("train.epochs=-1", "train.epochs=-1: must be >= 1"),
    ("train.epochs=0", "train.epochs=0: must be >= 1"),
    ("train.batch_size=0", "train.batch_size=0"),
    ("train.max_bad_fraction=2", "train.max_bad_fraction=2.0: must be in \\[0, 1\\]"),
])
def test_impossible_settings_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(None, [override])


def test_frontend_names_the_bad_field():
    with pytest.raises(ValueError, match="frontend target_frames=0: must be at least 1"):
        Frontend(target_frames=0)
    with pytest.raises(ValueError, match="frontend num_mel_bins=2: must be at least 3"):
        Frontend(num_mel_bins=2)


def test_symlink_loop_fifo_and_unreadable_audio_say_what_they_are(tmp_path, monkeypatch):
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    with pytest.raises(AudioError, match="loop.wav: symlink loop"):
        load_audio(loop)
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioError, match=r"pipe.wav: not a regular file \(a FIFO\)"):
        load_audio(fifo)
    dangling = tmp_path / "dangling.wav"
    dangling.symlink_to(tmp_path / "gone.wav")
    with pytest.raises(AudioError, match="broken symlink"):
        load_audio(dangling)
    locked = tmp_path / "locked.wav"
    locked.write_bytes(b"RIFF....")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: os.fspath(p) != str(locked) and real_access(p, mode))
    with pytest.raises(AudioError, match="locked.wav: permission denied"):  # root ignores mode bits: simulated
        load_audio(locked)


def test_two_classes_sharing_a_mid_are_refused(tmp_path):
    csv = tmp_path / "class_labels_indices.csv"
    csv.write_text("index,mid,display_name\n0,/m/a,Dog\n1,/m/b,Cat\n2,/m/a,Bark\n")
    with pytest.raises(DataFormatError, match=r"mid '/m/a' is used by index 0 and index 2"):
        read_label_csv(csv)
    csv.write_text("index,mid,display_name\n0,/m/a,Dog\n1,/m/b,Dog\n")
    with pytest.raises(DataFormatError, match="display_name 'Dog' is used by index 0 and index 1"):
        read_label_csv(csv)
    assert issubclass(DataFormatError, AumError) and issubclass(DataFormatError, ValueError)


def test_a_stale_cache_entry_is_recomputed(tmp_path, caplog):
    import soundfile

    wav = tmp_path / "clip.wav"
    soundfile.write(wav, (np.random.default_rng(0).standard_normal(8000) * 0.1).astype(np.float32), 16000)
    frontend = Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32)
    cache = FeatureCache(tmp_path / "cache")
    cache.save(cache.entry(wav, frontend.cache_key()), torch.zeros(10, 7))  # e.g. written by older code
    dataset = ClipDataset([Example(str(wav), [0])], 1, frontend, False, cache_dir=tmp_path / "cache")
    item = dataset[0]
    assert item["x"].shape == (48, 32)
    assert "stale cache entry" in caplog.text and "recomputing" in caplog.text
    torch.testing.assert_close(dataset[0]["x"], item["x"])  # the recomputed entry replaced the stale one
