"""`aum.audio.fbank` against independent oracles (kaldi-native-fbank; torchaudio when importable), against its own
plain reference twin (values and gradients), on CPU and, when present, CUDA.

Scale: both sides take the same float waveform in [-1, 1]; there is no int16 scale factor anywhere.
Mean: `fbank` subtracts the waveform mean itself (as AST), the oracles are fed the mean-subtracted waveform.
128 bins: at 16 kHz with 512-point FFTs Kaldi's mel filter 3 is empty. torchaudio (what AST ran) keeps it and
outputs log(eps) there; kaldi-native-fbank refuses the whole configuration. So the kaldi-native-fbank oracle for
128 bins is stitched from runs of non-empty bins: a run s..e is exactly a Kaldi bank with num_bins = e - s + 1,
low_freq = mel⁻¹(mel_low + s·Δ), high_freq = mel⁻¹(mel_low + (e + 2)·Δ) (same Δ, same triangles); the empty bin
must equal log(eps).
Float32 resolution: an FFT in float32 carries rounding noise of about 1e-7 of the frame's loudest component, so
mel energies far below a frame's loudest bin are noise in BOTH implementations (kaldi-native-fbank's own deviation
from the float64 result reaches ~7e-3 there on tones and chirps). Values within 70 dB of the frame's loudest bin
must agree to 1e-3; values further down are checked at 2e-2 (a real bug, e.g. a wrong window or filter, shows up
far above both limits in the loud bins).
"""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
import torch

from aum.audio import LOG_FLOOR, fbank, load_audio, mel_banks, resample
from aum.audio.kaldi import feature_window, inverse_mel_scale, mel_scale
from aum.audio.kaldi_ref import fbank_reference, reference_mel_banks, reference_window

try:
    import kaldi_native_fbank as knf
except ImportError:  # the dev extra installs it; without it only the oracle tests skip
    knf = None
needs_knf = pytest.mark.skipif(knf is None, reason="kaldi-native-fbank not installed (pip install -e '.[dev]')")

SR = 16000
TOL = 1e-3
NOISE_TOL = 2e-2
DYNAMIC_RANGE = 70 / 10 * math.log(10)  # 70 dB in natural-log units of energy
CUDA = torch.cuda.is_available()


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _pink(n: int, seed: int) -> np.ndarray:
    spectrum = np.fft.rfft(_rng(seed).standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))  # 1/f power
    x = np.fft.irfft(spectrum, n)
    return 0.3 * x / np.abs(x).max()


def _normalized(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    return x / np.abs(x).max()


def _tone(freq: float, seconds: float, rate: int = SR, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)


def _chirp(seconds: float, rate: int, f0: float, f1: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.4 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds)))


def _from_rate(x: np.ndarray, rate: int) -> np.ndarray:
    return resample(torch.from_numpy(x.astype(np.float32)), rate, SR).numpy()


SIGNALS = {
    "white_noise": lambda: 0.1 * _rng(1).standard_normal(SR),
    "loud_white_noise": lambda: np.clip(0.5 * _rng(2).standard_normal(SR), -1, 1),
    "quiet_white_noise": lambda: 1e-3 * _rng(3).standard_normal(SR),
    "pink_noise": lambda: _pink(SR, 4),
    "tone_100hz": lambda: _tone(100, 1.0),
    "tone_440hz": lambda: _tone(440, 1.0),
    "tone_1khz": lambda: _tone(1000, 0.5, amp=0.9),
    "tone_3333hz": lambda: _tone(3333.3, 0.5),
    "tone_7khz": lambda: _tone(7000, 0.5),
    "chirp": lambda: _chirp(1.0, SR, 50, 7900),
    "clipped_sine": lambda: np.clip(4 * _tone(300, 1.0), -1, 1),
    "clipped_noise": lambda: np.clip(2 * _rng(5).standard_normal(SR), -1, 1),
    "square_wave": lambda: 0.3 * np.sign(_tone(220, 0.5)),
    "clicks": lambda: np.where(np.arange(SR // 2) % 800 == 0, 0.9, 0.0),
    "brown_noise": lambda: 0.9 * _normalized(np.cumsum(_rng(13).standard_normal(SR))),
    "am_noise": lambda: 0.3 * _rng(14).standard_normal(SR) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * np.arange(SR) / SR)),
    "noise_bursts": lambda: np.where((np.arange(SR) // 2000) % 2 == 0, 0.2 * _rng(15).standard_normal(SR), 0.0),
    "dc_offset_noise": lambda: 0.4 + 0.05 * _rng(6).standard_normal(SR // 2),
    "odd_length": lambda: 0.2 * _rng(7).standard_normal(SR + 123),
    "clip_0.1s": lambda: 0.2 * _rng(8).standard_normal(SR // 10),
    "clip_12s": lambda: _pink(12 * SR, 9),
    "from_8khz_noise": lambda: _from_rate(0.2 * _rng(10).standard_normal(8000), 8000),
    "from_8khz_tone": lambda: _from_rate(_tone(1500, 1.0, rate=8000), 8000),
    "from_44khz_noise": lambda: _from_rate(0.2 * _rng(11).standard_normal(44100), 44100),
    "from_44khz_chirp": lambda: _from_rate(_chirp(1.0, 44100, 20, 20000), 44100),
}
SPEECH = ["hello world, the quick brown fox jumps over the lazy dog", "seven, yes, left, up, stop"]


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """Speech rendered by espeak-ng (22.05 kHz WAV), loaded at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    out = []
    for i, text in enumerate(SPEECH):
        path = tmp_path_factory.mktemp("speech") / f"s{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        out.append(load_audio(path).numpy())
    return out


def _knf_bins(x: np.ndarray, num_bins: int, low: float, high: float, sample_rate: int = SR, **frame_opts):
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = sample_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "hanning"
    for name, value in frame_opts.items():
        setattr(opts.frame_opts, name, value)
    opts.mel_opts.num_bins, opts.mel_opts.low_freq, opts.mel_opts.high_freq = num_bins, low, high
    extractor = knf.OnlineFbank(opts)
    extractor.accept_waveform(sample_rate, x.astype(np.float32))
    extractor.input_finished()
    frames = [extractor.get_frame(i) for i in range(extractor.num_frames_ready)]
    return np.stack(frames) if frames else np.zeros((0, num_bins), np.float32)


def knf_fbank(x: np.ndarray, num_bins: int = 128, low: float = 20.0, sample_rate: int = SR, **frame_opts):
    """kaldi-native-fbank log-mel (high_freq = Nyquist), stitched over runs of non-empty filters (module doc)."""
    padded = 1 << (int(sample_rate * 0.001 * frame_opts.get("frame_length_ms", 25.0)) - 1).bit_length()
    empty = (mel_banks(num_bins, padded, sample_rate, low, 0.0, torch.device("cpu"), torch.float64).sum(0) == 0)
    mel_low, mel_high = mel_scale(low), mel_scale(sample_rate / 2)
    delta = (mel_high - mel_low) / (num_bins + 1)
    runs, start = [], None
    for b in range(num_bins + 1):
        if b < num_bins and not empty[b]:
            start = b if start is None else start
        elif start is not None:
            runs.append((start, b - 1))
            start = None
    parts = {}
    for s, e in runs:
        lo = low if s == 0 else inverse_mel_scale(mel_low + s * delta)
        hi = 0.0 if e == num_bins - 1 else inverse_mel_scale(mel_low + (e + 2) * delta)
        parts[(s, e)] = _knf_bins(x, e - s + 1, lo, hi, sample_rate, **frame_opts)
    n_frames = next(iter(parts.values())).shape[0]
    out = np.full((n_frames, num_bins), math.log(LOG_FLOOR), np.float32)
    for (s, e), values in parts.items():
        out[:, s: e + 1] = values
    return out


def _centered(x: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    wave = torch.from_numpy(np.asarray(x, np.float32))
    return wave, (wave - wave.mean()).numpy()


def _assert_close_to_knf(x: np.ndarray, device: str = "cpu"):
    wave, centered = _centered(x)
    ours = fbank(wave.to(device)).cpu().numpy()
    oracle = knf_fbank(centered)
    assert ours.shape == oracle.shape == (1 + (len(x) - 400) // 160, 128)
    _assert_agree(ours, oracle, exact=fbank(wave.double()).numpy())


def _assert_agree(ours: np.ndarray, oracle: np.ndarray, exact: np.ndarray):
    """1e-3 within 70 dB of each frame's loudest bin (judged on the float64 result), 2e-2 below (module doc)."""
    resolvable = exact.max(axis=-1, keepdims=True) - exact <= DYNAMIC_RANGE  # (F, M)
    err = np.abs(ours - oracle)
    assert err[resolvable].max() <= TOL, f"max |Δ| = {err[resolvable].max():.2e} within 70 dB of the peak"
    assert err.max() <= NOISE_TOL, f"max |Δ| = {err.max():.2e}"


@needs_knf
@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_matches_kaldi_native_fbank(name):
    _assert_close_to_knf(SIGNALS[name]())


@needs_knf
@pytest.mark.parametrize("index", range(len(SPEECH)))
def test_speech_matches_kaldi_native_fbank(speech, index):
    _assert_close_to_knf(speech[index])


@needs_knf
def test_128_bins_has_one_empty_filter_that_kaldi_native_fbank_refuses():
    banks = mel_banks(128, 512, SR, 20.0, 0.0, torch.device("cpu"), torch.float64)  # (257, 128)
    assert torch.nonzero(banks.sum(0) == 0).flatten().tolist() == [3]
    assert torch.equal(fbank(torch.randn(SR))[:, 3], torch.full((98,), math.log(LOG_FLOOR)))
    with pytest.raises(Exception, match="num_mel_bins too large"):
        _knf_bins(np.zeros(SR), 128, 20.0, 0.0)


@needs_knf
@pytest.mark.parametrize("options", [
    {"window": "povey"}, {"window": "hamming"}, {"window": "rectangular"}, {"window": "blackman"},
    {"window": "sine"}, {"preemphasis": 0.0}, {"preemphasis": 0.5, "remove_dc_offset": False},
    {"num_mel_bins": 80, "low_freq": 60.0}, {"num_mel_bins": 23, "sample_rate": 8000},
    {"frame_length_ms": 20.0, "frame_shift_ms": 5.0, "num_mel_bins": 40},
    {"num_mel_bins": 64, "high_freq": -400.0},
])
def test_other_kaldi_options_match_kaldi_native_fbank(options):
    options = {"num_mel_bins": 80, **options}  # kaldi-native-fbank refuses 128 bins (module doc)
    rate = options.get("sample_rate", SR)
    wave = torch.from_numpy(np.clip(_pink(rate, 12) + _tone(rate / 7, 1.0, rate, 0.2), -1, 1).astype(np.float32))
    ours = fbank(wave, subtract_mean=False, **options).numpy()
    frame = {"window_type": options.get("window", "hanning"), "preemph_coeff": options.get("preemphasis", 0.97),
             "remove_dc_offset": options.get("remove_dc_offset", True),
             "frame_length_ms": options.get("frame_length_ms", 25.0),
             "frame_shift_ms": options.get("frame_shift_ms", 10.0)}
    oracle = _knf_bins(wave.numpy(), options["num_mel_bins"], options.get("low_freq", 20.0),
                       options.get("high_freq", 0.0), rate, **frame)
    assert ours.shape == oracle.shape
    _assert_agree(ours, oracle, exact=fbank(wave.double(), subtract_mean=False, **options).numpy())


@pytest.mark.parametrize("name", ["hanning", "povey", "hamming", "rectangular", "sine", "blackman"])
def test_windows_match_plain_loops(name):
    window = feature_window(name, 401, torch.device("cpu"), torch.float64)
    torch.testing.assert_close(window, torch.tensor(reference_window(name, 401), dtype=torch.float64))


@pytest.mark.parametrize("bins, rate, padded, low, high", [(128, SR, 512, 20.0, 0.0), (23, 8000, 256, 0.0, -200.0)])
def test_mel_banks_match_plain_loops(bins, rate, padded, low, high):
    fast = mel_banks(bins, padded, rate, low, high, torch.device("cpu"), torch.float64)  # (padded // 2 + 1, bins)
    plain = torch.tensor(reference_mel_banks(bins, padded, rate, low, high), dtype=torch.float64)
    torch.testing.assert_close(fast[:-1], plain.T, rtol=0, atol=1e-12)
    assert not fast[-1].any()  # the Nyquist bin carries no weight


@pytest.mark.parametrize("options", [
    {"num_mel_bins": 29, "low_freq": 50.0}, {"num_mel_bins": 31, "window": "hamming", "remove_dc_offset": False},
    {"num_mel_bins": 23, "window": "rectangular", "preemphasis": 0.0}, {"window": "povey", "subtract_mean": False},
])
def test_fast_path_matches_reference_values_and_gradients(options):
    wave = (0.3 * torch.randn(2, 3, 3217, dtype=torch.float64) + 0.1).requires_grad_()  # odd sizes, 19 frames
    ours = fbank(wave, **options)  # (2, 3, 19, M)
    weights = torch.randn_like(ours)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), wave)
    for i, j in np.ndindex(2, 3):
        ref = fbank_reference(wave[i, j], **options)  # (19, M)
        torch.testing.assert_close(ours[i, j], ref, rtol=1e-10, atol=1e-10)
        (grad_ref,) = torch.autograd.grad((ref * weights[i, j]).sum(), wave)
        torch.testing.assert_close(grad_ours[i, j], grad_ref[i, j], rtol=1e-8, atol=1e-10)


def test_batched_equals_clip_by_clip_and_shapes():
    wave = 0.1 * torch.randn(3, 2, 5000)
    out = fbank(wave)
    assert out.shape == (3, 2, 29, 128) and out.dtype == torch.float32
    torch.testing.assert_close(out[2, 1], fbank(wave[2, 1]), rtol=0, atol=1e-5)
    assert fbank(torch.randn(399)).shape == (0, 128)  # shorter than one frame: no frames (snip_edges)
    assert fbank(torch.randn(0, 800)).shape == (0, 3, 128)
    assert fbank(torch.randn(800, dtype=torch.float16)).dtype == torch.float32


def test_chunking_does_not_change_values(monkeypatch):
    wave = 0.1 * torch.randn(5, 5000)
    whole = fbank(wave)
    monkeypatch.setattr("aum.audio.kaldi._CPU_CHUNK_FRAMES", 60)  # 2 clips of 29 frames per chunk
    torch.testing.assert_close(fbank(wave), whole, rtol=0, atol=1e-5)


def test_dither_is_fresh_gaussian_noise_on_each_frame_before_dc_removal():
    wave = 0.1 * torch.randn(2003, dtype=torch.float64)
    wave = wave - wave.mean()  # fbank subtracts the mean itself; the reference below does not
    torch.manual_seed(0)
    ours = fbank(wave, dither=0.01)  # (11, 128)
    torch.manual_seed(0)
    noise = 0.01 * torch.randn(1, 11, 400, dtype=torch.float64)  # what fbank draws: one row per frame
    for f in range(11):
        frame = wave[f * 160: f * 160 + 400] + noise[0, f]
        torch.testing.assert_close(ours[f], fbank_reference(frame, subtract_mean=False)[0], rtol=1e-9, atol=1e-9)
    assert torch.all(fbank(torch.zeros(1600)) == math.log(LOG_FLOOR))  # no dither unless asked


@pytest.mark.parametrize("bad, match", [
    ({"window": "kaiser"}, "unknown window"), ({"low_freq": 9000.0}, "bad mel band"),
    ({"high_freq": 9000.0}, "bad mel band"), ({"num_mel_bins": 2}, "num_mel_bins"),
    ({"frame_length_ms": 0.01}, "too short"),
])
def test_bad_options_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        fbank(torch.randn(1600), **bad)


def test_integer_waveform_is_refused():
    with pytest.raises(TypeError, match="floating-point"):
        fbank(torch.zeros(1600, dtype=torch.int16))


@needs_knf
@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_cuda_matches_kaldi_native_fbank_and_cpu(name):
    x = SIGNALS[name]()
    _assert_close_to_knf(x, "cuda")
    wave = torch.from_numpy(np.asarray(x, np.float32))
    _assert_agree(fbank(wave.cuda()).cpu().numpy(), fbank(wave).numpy(), exact=fbank(wave.double()).numpy())


@needs_knf
@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize("index", range(len(SPEECH)))
def test_cuda_speech_matches_kaldi_native_fbank(speech, index):
    _assert_close_to_knf(speech[index], "cuda")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs CUDA")])])
@pytest.mark.parametrize("name", ["white_noise", "pink_noise", "tone_440hz", "clipped_sine", "clip_0.1s",
                                  "from_8khz_tone", "from_44khz_chirp", "dc_offset_noise"])
def test_matches_torchaudio(name, device):
    kaldi = pytest.importorskip("torchaudio.compliance.kaldi")
    wave = torch.from_numpy(np.asarray(SIGNALS[name](), np.float32)).to(device)
    oracle = kaldi.fbank((wave - wave.mean())[None], htk_compat=True, sample_frequency=SR, use_energy=False,
                         window_type="hanning", num_mel_bins=128, dither=0.0, frame_shift=10)
    _assert_agree(fbank(wave).cpu().numpy(), oracle.cpu().numpy(), exact=fbank(wave.cpu().double()).numpy())
