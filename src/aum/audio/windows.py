"""Time on the fbank grid: the frame shift and length of the Kaldi front end, and fixed-length windows over frames.

Every reader of long clips cuts the same windows: `aum predict` (sliding windows over a clip), the streamed
timeline (`aum.audio.stream.WindowStream`), `aum serve` and HEAR's scene embeddings.
"""

from __future__ import annotations

import torch

from aum.audio.kaldi import FRAME_LENGTH_MS, FRAME_SHIFT_MS
from aum.errors import ConfigError

FRAME_SHIFT_S, FRAME_LENGTH_S = FRAME_SHIFT_MS / 1000, FRAME_LENGTH_MS / 1000  # 25 ms frames every 10 ms


def window_starts(frames: int, length: int, hop: int | None = None) -> list[int]:
    """First frame of each window of `length` frames over `frames` frames: every `hop` frames (default half a
    window) from 0, plus one window ending at the last frame when the regular ones stop short of it; one window
    (starting at 0) when the clip is shorter than a window."""
    if hop is not None and hop <= 0:
        raise ConfigError(f"hop must be a positive number of frames, got {hop}")
    hop = hop or max(1, length // 2)
    starts = list(range(0, max(frames - length, 0) + 1, hop))
    if starts[-1] + length < frames:
        starts.append(frames - length)
    return starts


def windows(features: torch.Tensor, length: int, hop: int | None = None) -> torch.Tensor:
    """(frames, bins) -> (W, length, bins): the windows of `window_starts` (the features must hold at least
    `length` frames; the front end pads a shorter clip)."""
    return torch.stack([features[s:s + length] for s in window_starts(features.shape[0], length, hop)])
