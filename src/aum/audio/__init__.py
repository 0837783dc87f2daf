"""Audio in: file reading (`io`), the Kaldi fbank in torch (`kaldi`, its reference twin `kaldi_ref`), and the
`Frontend` that turns a waveform into the normalised model input (`frontend`)."""

from aum.audio.frontend import NORM_STATS, Frontend, dataset_stats, normalize, pad_or_crop
from aum.audio.io import AudioError, decode_audio, is_silent, load_audio, resample
from aum.audio.kaldi import LOG_FLOOR, fbank, mel_banks

__all__ = [
    "LOG_FLOOR",
    "NORM_STATS",
    "AudioError",
    "Frontend",
    "dataset_stats",
    "decode_audio",
    "fbank",
    "is_silent",
    "load_audio",
    "mel_banks",
    "normalize",
    "pad_or_crop",
    "resample",
]
