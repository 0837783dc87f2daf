"""Streaming front end for long recordings: memory bounded by the block size, not by the file's length.

    for block in read_blocks(path, 16000):      # mono float32 blocks at 16 kHz (soundfile + soxr stream)
        frames = fbank_stream.push(block)       # Kaldi fbank frames, continuing across block boundaries
        for start, window in windows.push(frames): ...

Exactness: Kaldi frames are independent of one another (each frame is cut, DC-removed, preemphasised and
windowed on its own samples), so `FbankStream` keeps the samples after the last whole frame's start and runs
`aum.audio.fbank` on the carried-over samples plus the new block: frame i is computed from exactly the same
samples as in the whole-file fbank.

Waveform mean: the whole-file `fbank` subtracts the clip's mean first (as AST does). Streaming cannot know the
file's mean in advance, and needs no mean: every frame has its own DC offset removed (`remove_dc_offset`, always on
in the AST front end) before any other step, which cancels any constant added to the waveform. So streaming
subtracts no mean, and its frames equal the whole-file fbank with the mean subtracted in exact arithmetic (tests:
float64, max |delta| <= 1e-5) and the whole-file fbank computed without it (`subtract_mean=False`) in float32 (max
|delta| <= 1e-5). In float32 the two whole-file conventions themselves differ by up to ~1e-4 in near-silent mel bins
(rounding of the large DC term). Resampling uses soxr's streaming resampler (`soxr.ResampleStream`), whose output is
close to, not bit-equal to, the one-shot `soxr.resample` that `load_audio` uses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from aum.audio.io import AudioError, audio_package, check_audio_path
from aum.audio.kaldi import FRAME_LENGTH_MS, FRAME_SHIFT_MS, fbank, frame_geometry, num_frames
from aum.errors import ConfigError

DEFAULT_BLOCK_SECONDS = 1.0  # also the resolution of "unreadable at T s": a failed read loses its block


def audio_duration(path: str | os.PathLike) -> float:
    """Length in seconds from the file's header (no decoding); AudioError for an unreadable file."""
    path = Path(path)
    check_audio_path(path)
    soundfile = audio_package("soundfile")  # imported where audio is read (see aum.audio.io)
    try:
        info = soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError, OSError) as e:
        raise AudioError(path, f"not a readable audio file ({getattr(e, 'error_string', None) or e})") from None
    if info.samplerate <= 0:
        raise AudioError(path, f"invalid sample rate {info.samplerate} in the header")
    return info.frames / info.samplerate


def read_blocks(path: str | os.PathLike, sample_rate: int = 16000,
                block_seconds: float = DEFAULT_BLOCK_SECONDS) -> Iterator[torch.Tensor]:
    """Yield the file as mono float32 blocks (samples,) at `sample_rate`: channels averaged, soxr streaming.

    Memory is one block, whatever the file's length. A decoding error, non-finite samples or a file that ends
    before its header says raise `AudioError` naming the file and the time where it went wrong, after every
    block before that point was yielded (so a caller can report the part that was read).
    """
    path = Path(path)
    check_audio_path(path)
    soundfile, soxr = audio_package("soundfile"), audio_package("soxr")  # imported where audio is read
    done, rate = 0, 0  # input frames decoded so far, the file's rate once known
    try:
        with soundfile.SoundFile(str(path)) as f:
            rate, expected = f.samplerate, promised_frames(f)
            if rate <= 0:
                raise AudioError(path, f"invalid sample rate {rate} in the header")
            resampler = None if rate == sample_rate else soxr.ResampleStream(rate, sample_rate, 1, dtype="float32")
            block_frames = max(1, int(block_seconds * rate))
            while True:
                data = f.read(block_frames, dtype="float32", always_2d=True)  # (n, channels)
                last = data.shape[0] < block_frames
                if not np.isfinite(data).all():
                    bad = done + int(np.argmax(~np.isfinite(data).all(axis=1)))
                    raise AudioError(path, f"non-finite samples (NaN or Inf) at {bad / rate:.2f} s")
                done += data.shape[0]
                mono = data.mean(axis=1, dtype=np.float32)  # (n,)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=last)
                if mono.size:
                    yield torch.from_numpy(np.ascontiguousarray(mono))
                if last:
                    break
    except (soundfile.SoundFileError, RuntimeError, OSError, EOFError) as e:
        detail = getattr(e, "error_string", None) or str(e)
        where = f"unreadable at {done / rate:.2f} s" if rate > 0 else "not a readable audio file"
        raise AudioError(path, f"{where} ({detail})") from None
    if done == 0:
        raise AudioError(path, "contains no audio samples (0 frames)")
    if expected > 0 and done < expected:
        raise AudioError(path, f"truncated at {done / rate:.2f} s (the header says {expected / rate:.2f} s)")


def promised_frames(f) -> int:  # f: an open soundfile.SoundFile
    """Frames the header promises. libsndfile shortens a WAV whose data chunk runs past the end of the file to
    what is there and notes "data : N (should be M)" in its log; the promise is then N / M times longer."""
    match = re.search(r"^data : (\d+) \(should be (\d+)\)", f.extra_info, re.MULTILINE)
    if match and int(match[2]) > 0:
        return int(f.frames * int(match[1]) / int(match[2]))
    return f.frames


class FbankStream:
    """Kaldi fbank (the `aum.audio.fbank` settings) of a waveform that arrives in blocks of any size.

    `push(block)` returns the frames completed by the block, (n, num_mel_bins), n >= 0; the concatenation of all
    returned frames equals `fbank(whole_waveform)` (see the module docstring for the mean). Keeps fewer than one
    frame shift + one frame length of samples between calls.
    """

    def __init__(self, sample_rate: int = 16000, num_mel_bins: int = 128, frame_length_ms: float = FRAME_LENGTH_MS,
                 frame_shift_ms: float = FRAME_SHIFT_MS):
        self.sample_rate, self.num_mel_bins = sample_rate, num_mel_bins
        self.frame_length_ms, self.frame_shift_ms = frame_length_ms, frame_shift_ms
        self.length, self.shift, _ = frame_geometry(sample_rate, frame_length_ms, frame_shift_ms)
        self._carry = torch.zeros(0)
        self.frames_out = 0

    def push(self, block: torch.Tensor) -> torch.Tensor:
        if block.dim() != 1:
            raise ConfigError(f"FbankStream.push takes a mono block (samples,), got shape {tuple(block.shape)}")
        buf = torch.cat([self._carry.to(block.dtype), block])
        n = num_frames(buf.numel(), self.length, self.shift)
        if n == 0:
            self._carry = buf
            return buf.new_zeros(0, self.num_mel_bins)
        out = fbank(buf[: (n - 1) * self.shift + self.length], self.sample_rate, self.num_mel_bins,
                    self.frame_length_ms, self.frame_shift_ms, subtract_mean=False)  # (n, M)
        self._carry = buf[n * self.shift:].clone()  # clone: do not keep the whole block alive
        self.frames_out += n
        return out


class WindowStream:
    """Fixed-length windows of frames, every `hop` frames, emitted as soon as they fill.

    The same windows as `aum.audio.windows.windows` on the whole feature matrix: starts 0, hop, 2 hop, ...; when the
    last of them stops short of the end, one more window ending at the last frame; a recording shorter than one
    window gives one zero-padded window. `push(frames)` and `finish()` return [(start_frame, (length, bins))].
    Keeps at most `length + hop` frames.
    """

    def __init__(self, length: int, hop: int):
        if length <= 0 or hop <= 0:
            raise ConfigError(f"window length and hop must be positive frame counts, got {length} and {hop}")
        self.length, self.hop = length, hop
        self._buf: torch.Tensor | None = None  # frames from index self._offset on
        self._offset = 0
        self._next = 0  # start of the next regular window
        self._last_end = 0  # end of the last window emitted

    @property
    def total(self) -> int:
        return self._offset + (0 if self._buf is None else self._buf.shape[0])

    def push(self, frames: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
        if frames.shape[0] == 0:
            return []
        self._buf = frames if self._buf is None else torch.cat([self._buf, frames])
        out = []
        while self._next + self.length <= self.total:
            i = self._next - self._offset
            out.append((self._next, self._buf[i:i + self.length].clone()))
            self._last_end = self._next + self.length
            self._next += self.hop
        keep_from = min(self._next, max(self.total - self.length, 0))  # enough for a final window at the end
        self._buf = self._buf[keep_from - self._offset:].clone()
        self._offset = keep_from
        return out

    def finish(self) -> list[tuple[int, torch.Tensor]]:
        if self._buf is None:
            return []
        if self.total < self.length:  # shorter than one window: pad with zeros, as training does
            pad = self._buf.new_zeros(self.length - self.total, self._buf.shape[1])
            return [(0, torch.cat([self._buf, pad]))]
        if self._last_end < self.total:
            start = self.total - self.length
            return [(start, self._buf[start - self._offset:].clone())]
        return []
