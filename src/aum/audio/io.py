"""Audio file reading: soundfile decoding, mono by averaging, soxr resampling, one-line errors.

Every bad input raises `AudioError` ("<path>: <reason>", one line, no chained library traceback). Silent audio
loads normally (datasets contain silence on purpose); call `is_silent(waveform)` to detect it.
Float files are returned as stored: samples beyond [-1, 1] are not clipped.
soundfile and soxr are imported where audio is read or resampled, so that `import aum` and the model, ops and
bench paths run where they are not installed (a missing one is an `UnavailableError` naming the package).
"""

from __future__ import annotations

import importlib
import io
import os
from pathlib import Path

import numpy as np
import torch

from aum.errors import AudioError, ConfigError, UnavailableError
from aum.fileinfo import file_problem

__all__ = ["AudioError", "audio_package", "decode_audio", "is_silent", "load_audio", "resample"]

DEFAULT_MAX_SECONDS = 3600.0
SILENCE_THRESHOLD = 1e-4  # peak |sample| at or below this (about -80 dBFS) counts as silence


def audio_package(name: str):
    """soundfile or soxr, imported on first use; missing, it is an UnavailableError saying what needs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise UnavailableError(f"{name} is not installed: reading or resampling audio needs it "
                               f"(pip install {name})") from None


def check_audio_path(path: Path) -> None:
    problem = file_problem(path)
    if problem == "is a directory":
        problem = "is a directory, not an audio file"
    if problem:
        raise AudioError(path, problem)


def _decode(path: Path | str, max_seconds: float, source=None) -> tuple[np.ndarray, int]:
    """(samples, channels) float32 and the file's sample rate; libsndfile errors become AudioError naming `path`.
    `source` (an open binary file) is read instead of `path` when given."""
    soundfile = audio_package("soundfile")
    try:
        with soundfile.SoundFile(path if source is None else source) as f:
            rate, frames = f.samplerate, f.frames
            if rate <= 0:
                raise AudioError(path, f"invalid sample rate {rate} in the header")
            if frames / rate > max_seconds:
                raise AudioError(path, f"too long: {frames / rate:.1f} s > max_seconds={max_seconds:g}")
            data = f.read(dtype="float32", always_2d=True)  # (T, C)
    except (soundfile.SoundFileError, RuntimeError, OSError, EOFError) as e:
        detail = getattr(e, "error_string", None) or str(e)  # libsndfile's reason without the path again
        raise AudioError(path, f"not a readable audio file ({detail})") from None
    return data, rate


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample (samples,) or (channels, samples) with soxr (high quality) on the CPU; returns float32 CPU."""
    if orig_rate <= 0 or new_rate <= 0:
        raise ConfigError(f"sample rates must be positive, got {orig_rate} -> {new_rate}")
    if waveform.dim() not in (1, 2):
        raise ConfigError(f"resample takes (samples,) or (channels, samples), got shape {tuple(waveform.shape)}")
    x = waveform.detach().to("cpu", torch.float32)
    if orig_rate == new_rate:
        return x
    out = audio_package("soxr").resample(x.numpy().T, orig_rate, new_rate)  # soxr wants (samples, channels)
    return torch.from_numpy(np.ascontiguousarray(out.T, dtype=np.float32))


def load_audio(path: str | os.PathLike, sample_rate: int = 16000, *,
               max_seconds: float = DEFAULT_MAX_SECONDS) -> torch.Tensor:
    """Read an audio file as a mono float32 waveform (samples,) at `sample_rate` Hz.

    Anything libsndfile reads (wav, flac, ogg, mp3 with libsndfile >= 1.1, ...). Channels are averaged; the rate is
    converted with soxr. Raises `AudioError` for a missing path, a directory, an empty, unreadable or non-audio
    file, a file with no samples, non-finite samples, or more than `max_seconds` of audio.
    """
    path = Path(path)
    check_audio_path(path)
    return _to_mono(path, *_decode(path, max_seconds), sample_rate)


def decode_audio(data: bytes, name: str, sample_rate: int = 16000, *,
                 max_seconds: float = DEFAULT_MAX_SECONDS) -> torch.Tensor:
    """`load_audio` for encoded bytes already in memory (e.g. a tar member); errors name `name`."""
    if not data:
        raise AudioError(name, "empty file (0 bytes)")
    return _to_mono(name, *_decode(name, max_seconds, io.BytesIO(data)), sample_rate)


def _to_mono(path: Path | str, data: np.ndarray, rate: int, sample_rate: int) -> torch.Tensor:
    if data.shape[0] == 0:
        raise AudioError(path, "contains no audio samples (0 frames)")
    if not np.isfinite(data).all():
        raise AudioError(path, "contains non-finite samples (NaN or Inf)")
    mono = torch.from_numpy(data.mean(axis=1, dtype=np.float32))  # (T,)
    wave = resample(mono, rate, sample_rate)
    if wave.numel() == 0:
        raise AudioError(path, f"too short: {data.shape[0]} sample(s) at {rate} Hz leave none at {sample_rate} Hz")
    return wave


def is_silent(waveform: torch.Tensor, threshold: float = SILENCE_THRESHOLD) -> bool:
    """True when no sample's magnitude exceeds `threshold` (default 1e-4, about -80 dBFS), or it is empty."""
    return waveform.numel() == 0 or bool(waveform.abs().max() <= threshold)
