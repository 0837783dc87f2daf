"""On-disk cache of un-augmented features: the normalised fbank (T, F) of a clip as a float32 `.npy`.

The key is (absolute path, mtime, size, `frontend.cache_key()`), so an edited file or a different frontend
(frames, bins, mean/std, ...) never reads a stale entry. Entries are written atomically (temp file + rename), so
several DataLoader workers or DDP ranks can share one cache folder. The cache is only valid for the
un-augmented features: `ClipDataset` bypasses it while a waveform-level augmentation (mixup, noise) is active;
spectrogram-level augmentations (SpecAugment, roll) are applied after reading it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)


class FeatureCache:
    def __init__(self, cache_dir: str | Path):
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def entry(self, audio_path: str | Path, frontend_key: str) -> Path:
        """Cache file for `audio_path` under the frontend `frontend_key` (raises OSError if the clip is missing)."""
        resolved = Path(audio_path).resolve()
        stat = resolved.stat()
        digest = hashlib.sha1(f"{resolved}|{stat.st_mtime_ns}|{stat.st_size}|{frontend_key}".encode()).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.npy"

    def load(self, entry: Path, shape: tuple[int, int] | None = None) -> torch.Tensor | None:
        """The cached (T, F) features, or None when absent, unreadable, or not float32 of `shape` (a broken or
        stale entry is recomputed)."""
        try:
            data = np.load(entry, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            log.warning("%s: unreadable cache entry, recomputing (%s)", entry, e)
            return None
        if data.dtype != np.float32 or (shape is not None and tuple(data.shape) != tuple(shape)):
            log.warning("%s: stale cache entry (%s %s, expected float32 %s), recomputing", entry, data.dtype,
                        tuple(data.shape), tuple(shape) if shape is not None else "(T, F)")
            return None
        return torch.from_numpy(data)

    def save(self, entry: Path, features: torch.Tensor) -> None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, features.detach().cpu().numpy().astype(np.float32), allow_pickle=False)
            os.replace(tmp, entry)
        except OSError as e:
            log.warning("%s: could not write cache entry (%s)", entry, e)
            Path(tmp).unlink(missing_ok=True)
