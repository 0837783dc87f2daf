"""Streaming front end: block-wise fbank equal to the whole-file fbank for random block sizes (blocks shorter than one
frame included), windows equal to `aum.audio.windows`, block reading with streaming resampling, and bad or
truncated audio mid-file reported with the file and the time after the part before it was yielded."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from aum.audio import AudioError, fbank, load_audio, windows
from aum.audio.stream import FbankStream, WindowStream, audio_duration, read_blocks

SR = 16000


def _stream_fbank(wave: torch.Tensor, sizes, bins: int = 128) -> torch.Tensor:
    stream, out, pos = FbankStream(SR, bins), [], 0
    for size in sizes:
        out.append(stream.push(wave[pos:pos + size]))
        pos += size
    out.append(stream.push(wave[pos:]))
    return torch.cat(out)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_stream_fbank_equals_whole_file_fbank(seed):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(3000, 12001, (1,), generator=g))
    # a DC offset on purpose: the whole-file fbank subtracts the mean, the stream relies on per-frame DC removal
    wave = 0.3 * torch.randn(n, generator=g, dtype=torch.float64) + 0.05
    limit = [160, 1, 399, 400, 401, 3000][seed]  # 400 samples = one 25 ms frame at 16 kHz
    sizes = torch.randint(1, limit + 1, (n,), generator=g).tolist()
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n))]
    # the model's convention (mean subtracted), exact arithmetic: float64 on both sides
    streamed = _stream_fbank(wave, sizes)
    whole = fbank(wave, SR, 128)
    assert streamed.shape == whole.shape
    assert (streamed - whole).abs().max() <= 1e-5
    # float32, as inference runs: equal to the whole-file fbank computed with the same (no global mean) convention
    wave32 = wave.float()
    streamed32 = _stream_fbank(wave32, sizes)
    assert streamed32.dtype == torch.float32
    assert (streamed32 - fbank(wave32, SR, 128, subtract_mean=False)).abs().max() <= 1e-5


def test_stream_fbank_tiny_blocks_and_short_input():
    wave = 0.2 * torch.randn(1234, generator=torch.Generator().manual_seed(5))
    streamed = _stream_fbank(wave, [1] * 1233, bins=64)
    assert torch.allclose(streamed, fbank(wave, SR, 64, subtract_mean=False), atol=1e-5, rtol=0)
    assert FbankStream(SR, 64).push(wave[:399]).shape == (0, 64)  # shorter than one frame: nothing yet


@pytest.mark.parametrize("frames,length,hop", [(37, 10, 3), (40, 10, 10), (7, 10, 5), (10, 10, 4), (101, 16, 7)])
def test_window_stream_matches_inference_windows(frames, length, hop):
    fb = torch.randn(frames, 5, generator=torch.Generator().manual_seed(frames))
    stream, got, pos = WindowStream(length, hop), [], 0
    for size in [3, 1, 8, 2, 5] * 20:
        got += stream.push(fb[pos:pos + size])
        pos += size
    got += stream.finish()
    padded = torch.nn.functional.pad(fb, (0, 0, 0, length - frames))[None] if frames < length else None
    expected = windows(fb, length, hop) if padded is None else padded
    assert torch.equal(torch.stack([w for _, w in got]), expected)
    assert [s for s, _ in got][0] == 0


def test_read_blocks_matches_load_audio(tmp_path):
    rate = 44100
    stereo = (0.2 * np.random.default_rng(0).standard_normal((rate * 3 + 17, 2))).astype(np.float32)
    path = tmp_path / "a.flac"
    soundfile.write(path, stereo, rate)
    streamed = torch.cat(list(read_blocks(path, SR, block_seconds=0.37)))
    whole = load_audio(path, SR)
    assert abs(streamed.numel() - whole.numel()) <= 1
    n = min(streamed.numel(), whole.numel())
    assert (streamed[:n] - whole[:n]).abs().max() < 1e-3  # streaming vs one-shot soxr: close, not bit-equal
    assert audio_duration(path) == pytest.approx(3 + 17 / rate)


def _ten_seconds(path, rate=SR):
    tone = (0.3 * np.sin(np.arange(10 * rate) * 0.05)).astype(np.float32)
    soundfile.write(path, tone, rate)
    return path


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_truncated_file_reports_part_before_and_the_time(tmp_path, ext):
    path = _ten_seconds(tmp_path / f"cut.{ext}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(AudioError) as err:
        for block in read_blocks(path, SR, block_seconds=1.0):
            got.append(block)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert " at " in message and " s" in message
    seconds = sum(b.numel() for b in got) / SR
    assert 3.0 <= seconds <= 6.0  # about half the file came through before the error
    assert f"{seconds:.0f}" in message or f"{seconds:.1f}" in message or "truncated at" in message


def test_non_finite_samples_mid_file_name_the_time(tmp_path):
    wave = np.zeros(5 * SR, np.float32)
    wave[3 * SR + 8000] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(path, wave, SR, subtype="FLOAT")
    got = []
    with pytest.raises(AudioError, match=r"nan.wav: non-finite samples \(NaN or Inf\) at 3.50 s"):
        for block in read_blocks(path, SR, block_seconds=1.0):
            got.append(block)
    assert sum(b.numel() for b in got) == 3 * SR


def test_unreadable_file_is_one_line(tmp_path):
    path = tmp_path / "junk.wav"
    path.write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioError, match="junk.wav: not a readable audio file"):
        list(read_blocks(path, SR))
