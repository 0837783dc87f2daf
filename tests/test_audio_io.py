"""`aum.audio.load_audio` on good files and on a corpus of bad ones generated here: every bad file raises an
`AudioError` whose one-line message names the file and the problem, with no chained library traceback."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from aum.audio import AudioError, is_silent, load_audio, resample

SR = 16000


def _write(path, data, rate, subtype=None):
    soundfile.write(str(path), data, rate, subtype=subtype)
    return path


def _tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def _truncated_header(path):
    _write(path, _tone(0.5, SR), SR)
    path.write_bytes(path.read_bytes()[:20])  # RIFF header cut inside the fmt chunk
    return path


def _nan_samples(path):
    data = _tone(0.5, SR)
    data[100:110] = np.nan
    return _write(path, data, SR, subtype="FLOAT")


BAD_FILES = {
    "empty.wav": (lambda p: p.write_bytes(b"") and p, "empty file"),
    "truncated.wav": (_truncated_header, "not a readable audio file"),
    "random.wav": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)) and p, "not a readable audio file"),
    "text.flac": (lambda p: p.write_text("this is not audio\n") and p, "not a readable audio file"),
    "nan.wav": (_nan_samples, "non-finite"),
    "zero_frames.wav": (lambda p: _write(p, np.zeros((0, 1), np.float32), SR), "no audio samples"),
    "one_sample_44k.wav": (lambda p: _write(p, np.full(1, 0.5, np.float32), 44100), "too short"),
    "folder.wav": (lambda p: p.mkdir() or p, "is a directory"),
    "missing.wav": (lambda p: p, "file not found"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_gives_one_line_error_naming_the_file(tmp_path, name):
    make, reason = BAD_FILES[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and reason in message and "\n" not in message
    assert info.value.__suppress_context__ or info.value.__context__ is None  # no chained library traceback
    assert isinstance(info.value, ValueError)  # callers may catch ValueError


def test_too_long_file_is_refused_before_decoding(tmp_path):
    path = _write(tmp_path / "long.wav", _tone(2.0, 8000), 8000)
    with pytest.raises(AudioError, match=r"long\.wav: too long: 2\.0 s > max_seconds=1"):
        load_audio(path, max_seconds=1.0)
    assert load_audio(path, max_seconds=2.0).shape == (32000,)


def test_eight_channels_load_as_mono_average(tmp_path):
    channels = np.stack([_tone(0.5, SR, 200 + 100 * c) * (c % 2) for c in range(8)], axis=1)  # (T, 8)
    wave = load_audio(_write(tmp_path / "eight.wav", channels, SR, subtype="FLOAT"))
    assert wave.shape == (8000,) and wave.dtype == torch.float32
    np.testing.assert_allclose(wave.numpy(), channels.mean(axis=1), atol=1e-6)


def test_96khz_is_resampled_to_16khz(tmp_path):
    wave = load_audio(_write(tmp_path / "hi.wav", _tone(1.0, 96000, 1000.0), 96000, subtype="PCM_24"))
    assert wave.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(wave.numpy()))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins: the tone stays at 1 kHz
    assert abs(wave[2000:-2000].abs().max().item() - 0.5) < 1e-3


FORMATS = [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")]


@pytest.mark.parametrize("fmt, subtype", FORMATS)
def test_common_formats_round_trip(tmp_path, fmt, subtype):
    if subtype not in soundfile.available_subtypes(fmt.upper()):
        pytest.skip(f"this libsndfile cannot write {fmt}")
    data = _tone(0.5, 22050)
    wave = load_audio(_write(tmp_path / f"clip.{fmt}", data, 22050, subtype=subtype))
    assert wave.shape == (8000,) and wave.abs().max() <= 1.0
    expected = resample(torch.from_numpy(data), 22050, SR)
    assert torch.corrcoef(torch.stack([wave, expected]))[0, 1] > 0.99


def test_int16_scale_is_minus_one_to_one(tmp_path):
    data = np.array([0, 16384, -32768, 32767] * 100, np.int16)
    wave = load_audio(_write(tmp_path / "pcm.wav", data, SR))
    assert wave[:4].tolist() == [0.0, 0.5, -1.0, 32767 / 32768]


def test_silent_audio_loads_and_is_detectable(tmp_path):
    wave = load_audio(_write(tmp_path / "silence.wav", np.zeros(SR, np.float32), SR))
    assert wave.shape == (SR,) and is_silent(wave)
    assert not is_silent(torch.from_numpy(_tone(0.1, SR)))
    assert is_silent(torch.zeros(0))


def test_resample_checks_its_arguments():
    with pytest.raises(ValueError, match="positive"):
        resample(torch.zeros(10), 0, SR)
    with pytest.raises(ValueError, match="channels, samples"):
        resample(torch.zeros(2, 2, 10), 8000, SR)
    assert resample(torch.zeros(2, 800), 8000, SR).shape == (2, 1600)
