"""Length and normalisation of fbank features, the `Frontend` that does waveform → model input, dataset stats.

AST / SSAST / AuM / SSAMBA: Kaldi fbank (128 bins, 25 / 10 ms) → pad with zeros or cut at the end to the target
frame count → `(x - mean) / (2 * std)` with the dataset statistics below (docs/REFERENCE.md §1).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from typing import ClassVar

import numpy as np
import torch

from aum.audio.io import resample
from aum.audio.kaldi import FRAME_LENGTH_MS, FRAME_SHIFT_MS, fbank, frame_geometry
from aum.errors import ConfigError
from aum.schema import Section, setting

# (mean, std) of the unnormalised fbank, from the official AST / SSAST / AuM recipes
NORM_STATS: dict[str, tuple[float, float]] = {
    "audioset": (-4.2677393, 4.5689974),
    "esc50": (-6.6268077, 5.358466),
    "speechcommands": (-6.845978, 5.5654526),
    "vggsound": (-5.0767093, 4.4533687),
    "voxceleb": (-3.7614744, 4.2011642),
}
# bump when the feature computation changes, so that cached features are recomputed
FEATURE_VERSION = 1


def pad_or_crop(features: torch.Tensor, target_frames: int) -> torch.Tensor:
    """Zero-pad or cut (..., frames, bins) at the end to (..., target_frames, bins), as AST does."""
    if target_frames <= 0:
        raise ConfigError(f"target_frames must be positive, got {target_frames}")
    frames = features.shape[-2]
    if frames >= target_frames:
        return features[..., :target_frames, :]
    return torch.nn.functional.pad(features, (0, 0, 0, target_frames - frames))  # (..., target_frames, bins)


def normalize(features: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """AST normalisation `(x - mean) / (2 * std)`."""
    return (features - mean) / (2.0 * std)


@dataclasses.dataclass
class Frontend:
    """Waveform → normalised fbank (target_frames, num_mel_bins), the input every model takes.

    The fbank settings are the AST ones (25 ms / 10 ms, hanning, preemphasis 0.97, 20 Hz .. Nyquist); only the
    fields below vary. `to_dict()` is stored in checkpoints so that prediction needs nothing else.
    """

    sample_rate: int = 16000
    num_mel_bins: int = 128
    target_frames: int = 1024
    mean: float = NORM_STATS["audioset"][0]
    std: float = NORM_STATS["audioset"][1]

    def __post_init__(self):
        for name, value, least in (("sample_rate", self.sample_rate, 1), ("num_mel_bins", self.num_mel_bins, 3),
                                   ("target_frames", self.target_frames, 1)):
            if value < least:
                raise ConfigError(f"frontend {name}={value}: must be at least {least}")
        if not (math.isfinite(self.mean) and math.isfinite(self.std) and self.std > 0):
            raise ConfigError(f"frontend needs a finite mean and a positive std, got {self.mean}, {self.std}")

    @classmethod
    def preset(cls, name: str, target_frames: int = 1024, **overrides) -> Frontend:
        """Frontend with the named dataset's statistics (see `NORM_STATS`)."""
        if name not in NORM_STATS:
            raise ConfigError(f"unknown normalisation preset {name!r}; choose one of {', '.join(NORM_STATS)}")
        mean, std = NORM_STATS[name]
        return cls(target_frames=target_frames, mean=mean, std=std, **overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def samples_of(self, frames: int | None = None) -> int:
        """Samples that `frames` fbank frames (default target_frames) span: (frames - 1) shifts + one frame."""
        length, shift, _ = frame_geometry(self.sample_rate, FRAME_LENGTH_MS, FRAME_SHIFT_MS)
        return (self.target_frames if frames is None else frames) * shift - shift + length

    @classmethod
    def from_dict(cls, data: dict) -> Frontend:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown frontend field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)

    def cache_key(self) -> str:
        """Short stable hash of the settings and the feature version: a directory name for cached features."""
        blob = json.dumps({"version": FEATURE_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]

    def fbank_of(self, waveform: torch.Tensor | np.ndarray, sample_rate: int | None = None) -> torch.Tensor:
        """Unnormalised fbank of the whole waveform at these settings: (..., samples) → (..., frames, bins)."""
        waveform = torch.as_tensor(waveform)
        if sample_rate is not None and sample_rate != self.sample_rate:
            waveform = resample(waveform, sample_rate, self.sample_rate).to(waveform.device)
        return fbank(waveform, self.sample_rate, self.num_mel_bins)

    def features(self, waveform: torch.Tensor | np.ndarray, sample_rate: int | None = None) -> torch.Tensor:
        """Unnormalised fbank padded / cut to target_frames: (..., samples) → (..., target_frames, bins)."""
        return pad_or_crop(self.fbank_of(waveform, sample_rate), self.target_frames)

    def whole(self, waveform: torch.Tensor | np.ndarray, sample_rate: int | None = None) -> torch.Tensor:
        """Model input of a whole clip however long, not cut: (samples,) → (max(frames, target_frames), bins),
        normalised; its first target_frames rows are `self(waveform)`."""
        feats = self.fbank_of(waveform, sample_rate)
        if feats.shape[-2] < self.target_frames:
            feats = pad_or_crop(feats, self.target_frames)
        return normalize(feats, self.mean, self.std)

    def __call__(self, waveform: torch.Tensor | np.ndarray, sample_rate: int | None = None) -> torch.Tensor:
        """Model input: (samples,) → (target_frames, bins); also works batched over leading dimensions."""
        return normalize(self.features(waveform, sample_rate), self.mean, self.std)

    def batch(self, waveforms: torch.Tensor | Sequence[torch.Tensor], sample_rate: int | None = None) -> torch.Tensor:
        """(B, samples) tensor, or a list of 1-D waveforms of any lengths → (B, target_frames, bins)."""
        if isinstance(waveforms, torch.Tensor):
            return self(waveforms, sample_rate)
        if len({int(w.shape[-1]) for w in waveforms}) == 1:
            return self(torch.stack([torch.as_tensor(w) for w in waveforms]), sample_rate)
        return torch.stack([self(w, sample_rate) for w in waveforms])


@dataclasses.dataclass(kw_only=True)
class FrontendConfig(Section):
    """`frontend:` the model input. `preset` gives a data set's normalisation statistics unless mean/std are set."""

    section: ClassVar[str] = "frontend"
    preset: str | None = setting("audioset", "normalisation statistics (mean, std) of a data set; null with mean/std",
                                 choices=tuple(NORM_STATS))
    sample_rate: int = setting(16000, "sample rate in Hz; audio is resampled to it", low=1)
    num_mel_bins: int = setting(128, "mel bins of the Kaldi fbank (128 for the published models)", low=3)
    target_frames: int = setting(1024, "input length in 10 ms frames; clips are padded or cut to it (1024 = "
                                 "10.24 s)", low=1)
    mean: float | None = setting(None, "fbank mean of the normalisation `(x - mean) / (2 std)`; overrides preset")
    std: float | None = setting(None, "fbank std of the normalisation (with mean)", low=0.0, open_low=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.mean is None) != (self.std is None):
            raise ConfigError("frontend: set both mean and std, or neither (then `preset` gives them)")
        if self.mean is None and self.preset is None:
            raise ConfigError(f"frontend: set a preset ({', '.join(NORM_STATS)}) or mean and std")

    def build(self) -> Frontend:
        mean, std = (self.mean, self.std) if self.mean is not None else NORM_STATS[str(self.preset)]
        return Frontend(sample_rate=self.sample_rate, num_mel_bins=self.num_mel_bins,
                        target_frames=self.target_frames, mean=float(mean), std=float(std))


def dataset_stats(features: Iterable[torch.Tensor]) -> tuple[float, float]:
    """Pooled mean and std of every value in an iterable of unnormalised fbanks (any shapes), in float64.

    Feed what the model will see before normalisation (`Frontend.features`, padding included, as AST did). AST's
    own script averaged per-batch stds instead of pooling; the difference is small but this is the exact value.
    """
    count, mean, m2 = 0, 0.0, 0.0
    for feats in features:
        x = torch.as_tensor(feats).detach().to(torch.float64).flatten()
        n = x.numel()
        if n == 0:
            continue
        batch_mean = float(x.mean())
        batch_m2 = float(((x - batch_mean) ** 2).sum())
        delta = batch_mean - mean
        total = count + n
        mean += delta * n / total
        m2 += batch_m2 + delta * delta * count * n / total  # Chan et al. parallel variance update
        count = total
    if count < 2:
        raise ConfigError("dataset_stats needs at least two feature values")
    return mean, math.sqrt(m2 / (count - 1))
