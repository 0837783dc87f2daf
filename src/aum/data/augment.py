"""Training augmentations of AST / AuM / SSAST, all driven by an explicit `torch.Generator` (no global RNG).

Waveform level (the feature cache is bypassed while one of these is on):
- mixup: with probability `mixup`, mix the clip with another random clip, `lam * a + (1 - lam) * b`,
  `lam ~ Beta(mixup_alpha, mixup_alpha)` (AST: Beta(10, 10)); the label is mixed with the same `lam`.
- noise: with probability `noise`, add background noise (a random excerpt of `noise_files`, e.g. Speech Commands'
  `_background_noise_`, else white noise) at an SNR drawn uniformly from `noise_snr` dB.
- shift: move the clip's content circularly by up to `shift` seconds either way (uniform over the moves allowed),
  keeping its loud part (`loud_span`) inside the samples the model sees (`Frontend.samples_of()`); a clip whose loud
  part touches an edge is left as it is, since moving it would join or un-cut a sound the edge cut. For keyword
  spotting on fixed 1 s files: each epoch sees every word at a new place in the window, as a stream reader does.
Spectrogram level (on the normalised fbank (T, F)):
- SpecAugment: one frequency mask of width < `freqm` bins and one time mask of width < `timem` frames (as
  torchaudio's masking, which AST uses); masked cells get the value a zero log-mel takes after normalisation, which
  is what AST's masks (applied before normalising) produce.
- spec_noise / roll: AST's `noise` option: add `U(0, 1) * U(0, spec_noise)` to every cell (AST: spec_noise 0.1),
  then shift the time axis circularly by up to `roll` frames either way (AST: 10).

YAML (`augment:` section, all optional): mixup, mixup_alpha, noise, noise_snr, noise_files, shift, freqm, timem,
spec_noise, roll.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from aum.audio import AudioError, load_audio
from aum.schema import Section, setting

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class AugmentConfig(Section):
    """`augment:` training augmentations (the train split only; see the module docstring)."""

    section: ClassVar[str] = "augment"
    mixup: float = setting(0.0, "probability of mixing a clip with another (label mixed alike)", low=0.0, high=1.0)
    mixup_alpha: float = setting(10.0, "mixup weight ~ Beta(alpha, alpha) (AST: 10)", low=0.0, open_low=True)
    noise: float = setting(0.0, "probability of adding background noise", low=0.0, high=1.0)
    noise_snr: tuple[float, float] = setting((5.0, 20.0), "SNR range of the added noise, in dB")
    noise_files: list[str] = setting(doc="noise clips (default: data.noise_dir, or Speech Commands' "
                                     "_background_noise_); white noise when there are none", factory=list)
    shift: float = setting(0.0, "move the clip's sound by up to this many seconds inside the window", low=0.0)
    freqm: int = setting(0, "SpecAugment: one frequency mask narrower than this many bins (0 = off)", low=0)
    timem: int = setting(0, "SpecAugment: one time mask narrower than this many frames (0 = off)", low=0)
    spec_noise: float = setting(0.0, "AST's spectrogram noise: U(0, 1) x U(0, spec_noise) added to every cell",
                                low=0.0)
    roll: int = setting(0, "AST's time roll: shift the frames circularly by up to this many", low=0)

    @property
    def waveform_level(self) -> bool:
        """True when an augmentation changes the waveform (then cached features cannot be used)."""
        return self.mixup > 0 or self.noise > 0 or self.shift > 0

    @property
    def active(self) -> bool:
        return self.waveform_level or self.freqm > 0 or self.timem > 0 or self.spec_noise > 0 or self.roll > 0


def uniform(generator: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * torch.rand((), generator=generator).item()


def sample_beta(alpha: float, beta: float, generator: torch.Generator) -> float:
    """Beta(alpha, beta) drawn from a numpy generator seeded by `generator` (torch has no seeded Beta sampler)."""
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, beta))


def match_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad or cut the end of `wav` (T,) to `length` samples."""
    if wav.shape[0] >= length:
        return wav[:length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[0]))


def mix_waveforms(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
    """AST mixup: `b` padded/cut to `a`'s length, then `lam * a + (1 - lam) * b`, mean removed."""
    mixed = lam * a + (1.0 - lam) * match_length(b, a.shape[0])
    return mixed - mixed.mean()


def add_noise(wav: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """`wav + g * noise` with g chosen so that power(wav) / power(g * noise) = 10^(snr_db / 10)."""
    noise = match_length(noise, wav.shape[0])
    signal_power = wav.pow(2).mean().clamp_min(1e-10)
    noise_power = noise.pow(2).mean().clamp_min(1e-10)
    gain = torch.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return wav + gain * noise


def loud_span(wav, frame: int = 160, level: float = 0.01, floor: float = 2.0) -> tuple[int, int]:
    """(start, end) samples of a clip's sound: the first to the last `frame`-sample frame whose RMS is at least
    `level` x the loudest frame's and `floor` x the clip's noise floor (its 10th-percentile frame RMS); the whole
    clip when no frame is. The default level, 1 % (-40 dB), keeps weak final consonants (an /f/, a /p/ release)."""
    wav = np.asarray(wav)  # float32 stays float32: the same spans as the numpy callers always had
    n = wav.size // frame
    if n == 0:
        return 0, wav.size
    rms = np.sqrt((wav[:n * frame].reshape(n, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms >= max(level * rms.max(), floor * np.percentile(rms, 10)) - 1e-12)
    return (int(loud[0]) * frame, int(loud[-1] + 1) * frame) if loud.size else (0, wav.size)


def shift_inside(wav: torch.Tensor, max_shift: int, visible: int, generator: torch.Generator) -> torch.Tensor:
    """wav (T,) rolled by a move in [-max_shift, max_shift] that keeps `loud_span` inside the first `visible`
    samples; unchanged when the loud part touches an edge or no such move exists."""
    start, end = loud_span(wav)
    visible = min(visible, wav.shape[0])
    low, high = max(-start, -max_shift), min(visible - end, max_shift)
    if start == 0 or end >= wav.shape[0] or low > high:
        return wav
    return torch.roll(wav, int(torch.randint(low, high + 1, (), generator=generator)))


def mask_band(x: torch.Tensor, dim: int, max_width: int, fill: float, generator: torch.Generator) -> torch.Tensor:
    """One band of width in [0, max_width) along `dim` set to `fill` (torchaudio-style mask sampling)."""
    size = x.shape[dim]
    width = min(int(uniform(generator) * max_width), size)
    start = int(uniform(generator) * (size - width))
    x = x.clone()
    x.narrow(dim, start, width).fill_(fill)
    return x


def spec_augment(fb: torch.Tensor, freqm: int, timem: int, fill: float, generator: torch.Generator) -> torch.Tensor:
    """fb (T, F): one frequency mask (< freqm bins) then one time mask (< timem frames)."""
    if freqm > 0:
        fb = mask_band(fb, 1, freqm, fill, generator)
    if timem > 0:
        fb = mask_band(fb, 0, timem, fill, generator)
    return fb


def time_roll(fb: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """fb (T, F) rolled along time by a shift in [-max_shift, max_shift)."""
    shift = int(torch.randint(-max_shift, max_shift, (), generator=generator)) if max_shift > 0 else 0
    return torch.roll(fb, shift, dims=0)


class Augmenter:
    """Applies an AugmentConfig; noise files are loaded once per process, on first use."""

    def __init__(self, config: AugmentConfig, sample_rate: int = 16000, visible: int | None = None):
        self.config = config
        self.sample_rate = sample_rate
        self.visible = visible  # samples the model sees of a clip (`shift` keeps the sound inside them)
        self._noises: list[torch.Tensor] | None = None

    def __getstate__(self) -> dict:  # workers reload noise files themselves instead of receiving a pickled copy
        return {**self.__dict__, "_noises": None}

    def noises(self) -> list[torch.Tensor]:
        if self._noises is None:
            self._noises = []
            for path in self.config.noise_files:
                try:
                    self._noises.append(load_audio(path, self.sample_rate))
                except (AudioError, OSError) as e:
                    log.warning("noise file skipped: %s", e)
        return self._noises

    def noise_excerpt(self, length: int, generator: torch.Generator) -> torch.Tensor:
        """A random excerpt (length,) of a random noise file, or white noise when there are none."""
        noises = self.noises()
        if not noises:
            return torch.randn(length, generator=generator)
        noise = noises[int(torch.randint(len(noises), (), generator=generator))]
        if noise.shape[0] <= length:
            return match_length(noise, length)
        start = int(torch.randint(noise.shape[0] - length, (), generator=generator))
        return noise[start:start + length]

    def wants_mixup(self, generator: torch.Generator) -> bool:
        return self.config.mixup > 0 and uniform(generator) < self.config.mixup

    def mixup_lambda(self, generator: torch.Generator) -> float:
        return sample_beta(self.config.mixup_alpha, self.config.mixup_alpha, generator)

    def waveform(self, wav: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """`shift`, then noise addition with probability `noise`, on wav (T,)."""
        cfg = self.config
        if cfg.shift > 0:
            wav = shift_inside(wav, int(cfg.shift * self.sample_rate), self.visible or wav.shape[0], generator)
        if cfg.noise > 0 and uniform(generator) < cfg.noise:
            wav = add_noise(wav, self.noise_excerpt(wav.shape[0], generator), uniform(generator, *cfg.noise_snr))
        return wav

    def spectrogram(self, fb: torch.Tensor, fill: float, generator: torch.Generator) -> torch.Tensor:
        """SpecAugment, additive noise and time roll on the normalised fbank (T, F)."""
        fb = spec_augment(fb, self.config.freqm, self.config.timem, fill, generator)
        if self.config.spec_noise > 0:
            scale = uniform(generator, 0.0, self.config.spec_noise)
            fb = fb + torch.rand(fb.shape, generator=generator) * scale
        return time_roll(fb, self.config.roll, generator)
