"""Plain reference twin of `fbank`: Kaldi's algorithm written out frame by frame in float64, for the tests.

Slow on purpose and free of the fast path's tricks (no strided framing, no chunking, no cached tensors): each
Kaldi step (feature-window.cc, mel-computations.cc, feature-fbank.cc) is spelled out. Differentiable.
"""

from __future__ import annotations

import math

import torch

from aum.audio.kaldi import (
    BLACKMAN_COEFF,
    FRAME_LENGTH_MS,
    FRAME_SHIFT_MS,
    LOG_FLOOR,
    frame_geometry,
    mel_edges,
    num_frames,
)
from aum.errors import ConfigError


def _mel(freq: float) -> float:
    return 1127.0 * math.log(1.0 + freq / 700.0)


def reference_window(name: str, length: int) -> list[float]:
    """Kaldi's FeatureWindowFunction, one sample at a time."""
    a = 2.0 * math.pi / (length - 1)
    formulas = {
        "hanning": lambda i: 0.5 - 0.5 * math.cos(a * i),
        "hamming": lambda i: 0.54 - 0.46 * math.cos(a * i),
        "povey": lambda i: (0.5 - 0.5 * math.cos(a * i)) ** 0.85,
        "rectangular": lambda i: 1.0,
        "sine": lambda i: math.sin(0.5 * a * i),
        "blackman": lambda i: BLACKMAN_COEFF - 0.5 * math.cos(a * i) + (0.5 - BLACKMAN_COEFF) * math.cos(2 * a * i),
    }
    if name not in formulas:
        raise ConfigError(f"unknown window {name!r}")
    return [formulas[name](i) for i in range(length)]


def reference_mel_banks(num_mel_bins: int, padded_size: int, sample_rate: float, low_freq: float,
                        high_freq: float) -> list[list[float]]:
    """Kaldi's MelBanks constructor as loops: weights[bin][fft_bin] over the padded_size // 2 FFT bins."""
    low, high = mel_edges(sample_rate, num_mel_bins, low_freq, high_freq)
    mel_low, mel_high = _mel(low), _mel(high)
    delta = (mel_high - mel_low) / (num_mel_bins + 1)
    bin_width = sample_rate / padded_size
    weights = []
    for b in range(num_mel_bins):
        left, center, right = mel_low + b * delta, mel_low + (b + 1) * delta, mel_low + (b + 2) * delta
        row = []
        for i in range(padded_size // 2):
            mel = _mel(bin_width * i)
            if left < mel <= center:
                row.append((mel - left) / (center - left))
            elif center < mel < right:
                row.append((right - mel) / (right - center))
            else:
                row.append(0.0)
        weights.append(row)
    return weights


def fbank_reference(waveform: torch.Tensor, sample_rate: float = 16000, num_mel_bins: int = 128,
                    frame_length_ms: float = FRAME_LENGTH_MS, frame_shift_ms: float = FRAME_SHIFT_MS,
                    window: str = "hanning", preemphasis: float = 0.97, remove_dc_offset: bool = True,
                    low_freq: float = 20.0, high_freq: float = 0.0, *, subtract_mean: bool = True) -> torch.Tensor:
    """Same contract as `fbank` for one 1-D waveform (no dither), computed in float64. → (frames, bins)"""
    if waveform.dim() != 1:
        raise ConfigError(f"fbank_reference takes one waveform (samples,), got shape {tuple(waveform.shape)}")
    x = waveform.to(torch.float64)
    if subtract_mean:
        x = x - x.mean()
    length, shift, padded = frame_geometry(sample_rate, frame_length_ms, frame_shift_ms)
    win = torch.tensor(reference_window(window, length), dtype=torch.float64)  # (L,)
    banks = torch.tensor(reference_mel_banks(num_mel_bins, padded, sample_rate, low_freq, high_freq),
                         dtype=torch.float64)  # (M, padded // 2)
    rows = []
    for f in range(num_frames(x.shape[0], length, shift)):
        frame = x[f * shift: f * shift + length]  # (L,)
        if remove_dc_offset:
            frame = frame - frame.mean()
        # x[0] -= c * x[0]; x[i] -= c * x[i - 1]
        frame = torch.cat([frame[:1] * (1.0 - preemphasis), frame[1:] - preemphasis * frame[:-1]]) * win  # (L,)
        frame = torch.cat([frame, frame.new_zeros(padded - length)])  # (padded,)
        spectrum = torch.fft.fft(frame)[: padded // 2]  # (padded // 2,) the Nyquist bin has no mel weight
        power = spectrum.real**2 + spectrum.imag**2
        rows.append(torch.log(torch.clamp(banks @ power, min=LOG_FLOOR)))  # (M,)
    if not rows:
        return x.new_zeros(0, num_mel_bins)
    return torch.stack(rows)  # (F, M)
