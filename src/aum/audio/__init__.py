"""Audio in: file reading (`io`), the Kaldi fbank in torch (`kaldi`, its reference twin `kaldi_ref`), and the
`Frontend` that turns a waveform into the normalised model input (`frontend`), windows over frames (`windows`),
and the streaming reader of long files (`stream`)."""

from aum.audio.frontend import NORM_STATS, Frontend, FrontendConfig, dataset_stats, normalize, pad_or_crop
from aum.audio.io import AudioError, decode_audio, is_silent, load_audio, resample
from aum.audio.kaldi import FRAME_LENGTH_MS, FRAME_SHIFT_MS, LOG_FLOOR, fbank, mel_banks
from aum.audio.windows import FRAME_LENGTH_S, FRAME_SHIFT_S, window_starts, windows

__all__ = [
    "FRAME_LENGTH_MS",
    "FRAME_LENGTH_S",
    "FRAME_SHIFT_MS",
    "FRAME_SHIFT_S",
    "LOG_FLOOR",
    "NORM_STATS",
    "AudioError",
    "Frontend",
    "FrontendConfig",
    "dataset_stats",
    "decode_audio",
    "fbank",
    "is_silent",
    "load_audio",
    "mel_banks",
    "normalize",
    "pad_or_crop",
    "resample",
    "window_starts",
    "windows",
]
