"""In-memory waveforms (numpy arrays, tensors, lists) to the mono float32 tensor the frontend takes.

Layouts: `(samples,)`, `(channels, samples)` (torch style) and `(samples, channels)` (what `soundfile.read`
returns). The channel axis of a 2-D array is its shorter one, at most `MAX_CHANNELS` long; a square array, or
one with no short axis, is refused rather than guessed. Integer PCM is scaled by its full scale (int16 / 32768,
uint8 centred at 128); NaN / Inf samples are refused, as `load_audio` refuses such files.
"""

from __future__ import annotations

import numpy as np
import torch

from aum.errors import AudioError

MAX_CHANNELS = 32
NAME = "waveform"


def _as_numpy(waveform) -> np.ndarray:
    if torch.is_tensor(waveform):
        waveform = waveform.detach().cpu()
        if waveform.dtype == torch.bfloat16:
            waveform = waveform.float()
        return waveform.numpy()
    return np.asarray(waveform)


def pcm_to_float(data: np.ndarray) -> np.ndarray:
    """float32 samples in [-1, 1) from integer PCM (by its full scale); floats are kept as they are."""
    kind = data.dtype.kind
    if kind == "f":
        return data.astype(np.float32, copy=False)
    if kind == "i":
        return (data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))).astype(np.float32)
    if kind == "u":
        half = float(2 ** (8 * data.dtype.itemsize - 1))
        return ((data.astype(np.float64) - half) / half).astype(np.float32)
    raise AudioError(NAME, f"unsupported sample type {data.dtype} (use float or integer PCM)")


def channel_axis(shape: tuple[int, ...]) -> int:
    """The channel axis (0 or 1) of a 2-D waveform shape; raises AudioError when it cannot be told apart."""
    rows, cols = shape
    if rows == cols or min(rows, cols) > MAX_CHANNELS:
        raise AudioError(NAME, f"ambiguous 2-D shape {shape}: pass (samples,), (channels, samples) or (samples, "
                         f"channels) with at most {MAX_CHANNELS} channels and more samples than channels")
    return 0 if rows < cols else 1


def to_mono(waveform) -> torch.Tensor:
    """Mono float32 (samples,) tensor from any accepted layout and sample type."""
    data = _as_numpy(waveform)
    if data.ndim == 2:
        data = pcm_to_float(data).mean(axis=channel_axis(data.shape), dtype=np.float32)
    elif data.ndim == 1:
        data = pcm_to_float(data)
    else:
        raise AudioError(NAME, f"expected (samples,), (channels, samples) or (samples, channels), got shape "
                         f"{tuple(data.shape)}")
    if data.size == 0:
        raise AudioError(NAME, "contains no audio samples")
    if not np.isfinite(data).all():
        raise AudioError(NAME, "contains non-finite samples (NaN or Inf)")
    return torch.from_numpy(np.ascontiguousarray(data))
