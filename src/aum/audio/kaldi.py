"""Kaldi-compatible log-mel filterbank in torch, batched over leading dimensions, CPU and CUDA.

Matches Kaldi's `compute-fbank-feats` (and `torchaudio.compliance.kaldi.fbank`, and `kaldi-native-fbank`) with
`snip_edges=True`, `round_to_power_of_two=True`, `use_energy=False`, `use_power=True`, `use_log_fbank=True`,
no VTLN. Per frame: (dither) → remove DC offset → preemphasis → window → zero-pad to a power of two → |rfft|² →
Kaldi triangular mel banks (the Nyquist bin has weight 0) → log with a floor at float32 eps.

As AST does (and unlike plain Kaldi), the mean of each whole waveform is subtracted first (`subtract_mean=True`).
Values are taken as given: AST feeds floats in [-1, 1] (no int16 scaling), so do we; `kaldi-native-fbank` fed the
same floats gives the same numbers (no scale factor), see tests/test_fbank.py.

The fast path never materialises raw frames (see `_logmel_chunk`: the per-frame steps are linear, so they are
applied to the waveform and to strided views); `fbank_reference` in `kaldi_ref.py` is the plain per-frame twin
that the tests compare it with, values and gradients.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch

from aum.errors import ConfigError

# Kaldi floors the mel energies at std::numeric_limits<float>::epsilon() whatever the compute precision.
LOG_FLOOR = float(torch.finfo(torch.float32).eps)
FRAME_LENGTH_MS, FRAME_SHIFT_MS = 25.0, 10.0  # the AST front end: 25 ms frames every 10 ms
WINDOWS = ("hanning", "hamming", "povey", "rectangular", "sine", "blackman")
BLACKMAN_COEFF = 0.42
# Frames per chunk of whole clips. CPU (16 ten-second clips): large enough that intra-op threads meet at few
# barriers (which stall badly on a busy machine), small enough to stay near the cache (~100 MB of temporaries).
# CUDA (~260 ten-second clips, ~1.3 GB of temporaries): one launch sequence for any usual batch.
_CPU_CHUNK_FRAMES = 1 << 14
_CUDA_CHUNK_FRAMES = 1 << 18


def mel_scale(freq):
    """Kaldi's mel scale, 1127 ln(1 + f / 700); works on floats and tensors."""
    if isinstance(freq, torch.Tensor):
        return 1127.0 * torch.log1p(freq / 700.0)
    return 1127.0 * math.log1p(freq / 700.0)


def inverse_mel_scale(mel: float) -> float:
    return 700.0 * (math.exp(mel / 1127.0) - 1.0)


def frame_geometry(sample_rate: float, frame_length_ms: float, frame_shift_ms: float) -> tuple[int, int, int]:
    """(window samples, shift samples, padded FFT size) exactly as Kaldi's FrameExtractionOptions computes them."""
    length = int(sample_rate * 0.001 * frame_length_ms)
    shift = int(sample_rate * 0.001 * frame_shift_ms)
    if length < 2 or shift < 1:
        raise ConfigError(f"frame length {frame_length_ms} ms / shift {frame_shift_ms} ms is too short at "
                         f"{sample_rate} Hz ({length} / {shift} samples)")
    return length, shift, 1 << (length - 1).bit_length()


def num_frames(num_samples: int, length: int, shift: int) -> int:
    """Frame count with snip_edges=True: only whole frames, none when the input is shorter than one frame."""
    return 0 if num_samples < length else 1 + (num_samples - length) // shift


def mel_edges(sample_rate: float, num_mel_bins: int, low_freq: float, high_freq: float) -> tuple[float, float]:
    """Validated (low, high) band edges in Hz; high_freq <= 0 means Nyquist + high_freq, as in Kaldi."""
    nyquist = 0.5 * sample_rate
    high = high_freq if high_freq > 0 else nyquist + high_freq
    if num_mel_bins < 3:
        raise ConfigError(f"num_mel_bins must be >= 3, got {num_mel_bins}")
    if not (0.0 <= low_freq < nyquist and 0.0 < high <= nyquist and low_freq < high):
        raise ConfigError(f"bad mel band: low_freq={low_freq}, high_freq={high_freq} at sample rate {sample_rate} "
                         f"(need 0 <= low < high <= {nyquist})")
    return low_freq, high


@functools.lru_cache(maxsize=64)
def feature_window(name: str, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Kaldi's window of `length` samples (symmetric: a = 2π / (length − 1)), computed in float64. (length,)
    Cached per (name, length, device, dtype): treat the returned tensor as read-only."""
    i = torch.arange(length, dtype=torch.float64)
    a = 2.0 * math.pi / (length - 1)
    if name == "hanning":
        w = 0.5 - 0.5 * torch.cos(a * i)
    elif name == "hamming":
        w = 0.54 - 0.46 * torch.cos(a * i)
    elif name == "povey":  # Kaldi's default: hann to the power 0.85
        w = (0.5 - 0.5 * torch.cos(a * i)).pow(0.85)
    elif name == "rectangular":
        w = torch.ones(length, dtype=torch.float64)
    elif name == "sine":
        w = torch.sin(0.5 * a * i)
    elif name == "blackman":
        w = BLACKMAN_COEFF - 0.5 * torch.cos(a * i) + (0.5 - BLACKMAN_COEFF) * torch.cos(2 * a * i)
    else:
        raise ConfigError(f"unknown window {name!r}; choose one of {', '.join(WINDOWS)}")
    return w.to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=64)
def mel_banks(num_mel_bins: int, padded_size: int, sample_rate: float, low_freq: float, high_freq: float,
              device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Kaldi's triangular mel filters as a (padded_size // 2 + 1, num_mel_bins) matrix; the Nyquist row is 0.

    A filter may be all zero (e.g. bin 3 of 128 bins at 16 kHz with 512-point FFTs): Kaldi refuses such a setup,
    torchaudio (and AST) keep it and its log-energy is log(eps). We keep it too.
    Cached per (settings, device, dtype): treat the returned tensor as read-only.
    """
    low, high = mel_edges(sample_rate, num_mel_bins, low_freq, high_freq)
    mel_low, mel_high = mel_scale(low), mel_scale(high)
    delta = (mel_high - mel_low) / (num_mel_bins + 1)
    bin_width = sample_rate / padded_size
    fft_mel = mel_scale(bin_width * torch.arange(padded_size // 2, dtype=torch.float64))[:, None]  # (K, 1)
    left = mel_low + delta * torch.arange(num_mel_bins, dtype=torch.float64)[None, :]  # (1, M)
    center, right = left + delta, left + 2 * delta
    rising = (fft_mel - left) / (center - left)  # (K, M)
    falling = (right - fft_mel) / (right - center)
    inside = (fft_mel > left) & (fft_mel < right)
    weights = torch.where(inside, torch.where(fft_mel <= center, rising, falling), 0.0)  # (K, M)
    nyquist_row = torch.zeros(1, num_mel_bins, dtype=torch.float64)
    return torch.cat([weights, nyquist_row]).to(device=device, dtype=dtype)  # (K + 1, M)


def _compute_dtype(waveform: torch.Tensor) -> torch.dtype:
    if not waveform.is_floating_point():
        raise TypeError(f"fbank expects a floating-point waveform in [-1, 1], got {waveform.dtype}")
    return torch.float64 if waveform.dtype == torch.float64 else torch.float32


class _Plan(NamedTuple):
    """Everything the per-chunk computation needs, resolved once per call."""

    length: int  # samples per frame
    shift: int  # samples between frame starts
    padded: int  # FFT size
    window: torch.Tensor  # (L,)
    banks: torch.Tensor  # (padded // 2 + 1, M)
    preemphasis: float
    remove_dc_offset: bool
    dither: float


def _plain_frame_ops(frames: torch.Tensor, plan: _Plan) -> torch.Tensor:
    """Kaldi's per-frame steps written directly: DC removal, preemphasis, window. (..., L) → (..., L)"""
    if plan.remove_dc_offset:
        frames = frames - frames.mean(dim=-1, keepdim=True)
    if plan.preemphasis != 0.0:  # x[i] -= c * x[i-1]; x[0] -= c * x[0]
        previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)  # (..., L)
        frames = frames - plan.preemphasis * previous
    return frames * plan.window


def _logmel_chunk(x: torch.Tensor, plan: _Plan, n_frames: int) -> torch.Tensor:
    """(b, T) waveforms → (b, F, M) log-mel energies.

    DC removal, preemphasis and window are linear, so they are applied without materialising raw frames:
    preemphasis runs once on the waveform (g[t] = x[t] - c x[t-1]), framing is a strided view of g written
    straight into the zero-padded FFT buffer times the window, and the frame mean m enters as - (1 - c) m w.
    Only sample 0 of each frame differs from g (Kaldi uses (1 - c) x[0] there) and is rewritten.
    """
    c = plan.preemphasis
    emphasized = torch.cat([x[:, :1], torch.sub(x[:, 1:], x[:, :-1], alpha=c)], dim=-1) if c != 0.0 else x  # (b, T)
    buffer = x.new_empty(x.shape[0], n_frames, plan.padded)  # (b, F, padded)
    buffer[..., plan.length:] = 0.0  # only the padding needs zeros
    body = buffer[..., : plan.length]  # (b, F, L) view
    frames = emphasized.unfold(-1, plan.length, plan.shift)  # (b, F, L) overlapping view, no copy
    if x.requires_grad:  # autograd does not follow out=
        body.copy_(frames * plan.window)
    else:
        torch.mul(frames, plan.window, out=body)
    raw = x.unfold(-1, plan.length, plan.shift)  # (b, F, L) view of the input frames
    means = raw.mean(dim=-1, keepdim=True) if plan.remove_dc_offset else x.new_zeros(1, 1, 1)  # (b, F, 1)
    if plan.remove_dc_offset:
        body.addcmul_(means, plan.window, value=-(1.0 - c))
    if c != 0.0:
        body[..., :1] = (1.0 - c) * (raw[..., :1] - means) * plan.window[0]
    if plan.dither != 0.0:  # Kaldi dithers each frame before DC removal; every step is linear, so add it here
        body.add_(_plain_frame_ops(plan.dither * torch.randn_like(body), plan))
    spectrum = torch.view_as_real(torch.fft.rfft(buffer))  # (b, F, K + 1, 2)
    real, imag = spectrum[..., 0], spectrum[..., 1]
    power = torch.mul(real, real).addcmul_(imag, imag)  # (b, F, K + 1)
    return (power @ plan.banks).clamp_min(LOG_FLOOR).log()  # (b, F, M)


def fbank(waveform: torch.Tensor, sample_rate: float = 16000, num_mel_bins: int = 128,
          frame_length_ms: float = FRAME_LENGTH_MS, frame_shift_ms: float = FRAME_SHIFT_MS, window: str = "hanning",
          preemphasis: float = 0.97, remove_dc_offset: bool = True, low_freq: float = 20.0, high_freq: float = 0.0,
          dither: float = 0.0, *, subtract_mean: bool = True) -> torch.Tensor:
    """Kaldi log-mel filterbank of `waveform` (..., samples) → (..., frames, num_mel_bins).

    Batched over all leading dimensions, on the waveform's device. float64 input is computed in float64, other
    floating types in float32. `subtract_mean=True` removes each waveform's mean first, as AST does.
    Differentiable (not needed for training, used by the tests).
    """
    if waveform.dim() == 0:
        raise ConfigError("fbank expects a waveform of shape (..., samples), got a scalar")
    dtype = _compute_dtype(waveform)
    length, shift, padded = frame_geometry(sample_rate, frame_length_ms, frame_shift_ms)
    banks = mel_banks(num_mel_bins, padded, float(sample_rate), float(low_freq), float(high_freq),
                      waveform.device, dtype)  # (K + 1, M)
    win = feature_window(window, length, waveform.device, dtype)  # (L,)
    lead, samples = waveform.shape[:-1], waveform.shape[-1]
    if samples == 0:
        raise ConfigError(f"fbank got an empty waveform (shape {tuple(waveform.shape)}, 0 samples); one frame "
                         f"needs {length} samples at {sample_rate:g} Hz")
    x = waveform.reshape(-1, samples).to(dtype)  # (B, T)
    if subtract_mean and samples > 0:
        x = x - x.mean(dim=-1, keepdim=True)
    n_frames = num_frames(samples, length, shift)
    if n_frames == 0 or x.shape[0] == 0:
        return x.new_zeros(*lead, n_frames, num_mel_bins)
    plan = _Plan(length, shift, padded, win, banks, float(preemphasis), bool(remove_dc_offset), float(dither))
    clips_per_chunk = max(1, (_CUDA_CHUNK_FRAMES if x.is_cuda else _CPU_CHUNK_FRAMES) // n_frames)
    out = torch.cat([_logmel_chunk(part, plan, n_frames) for part in x.split(clips_per_chunk)])  # (B, F, M)
    return out.reshape(*lead, n_frames, num_mel_bins)
