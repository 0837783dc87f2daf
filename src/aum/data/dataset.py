"""`ClipDataset` (file -> normalised fbank + target), `collate`, and `make_loader` with reproducible seeding.

Randomness: every item draws from its own `torch.Generator` seeded by (dataset seed, epoch, index), so an epoch's
augmentations do not depend on the number of workers or on what ran before: a resumed run sees the same data.
Call `set_epoch(loader, epoch)` before each epoch (it sets the sampler's and the dataset's epoch; workers are
not persistent, so they pick the new epoch up).

Bad clips (missing, unreadable, empty, ...) give `None` items, are logged once per file with the reason
(`<path>: <reason>`), and counted in `dataset.bad_clips` (shared by the DataLoader workers: one count per failed
load); `collate` drops them and returns None when a whole batch was bad.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import random
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from aum.audio import AudioError, Frontend, load_audio
from aum.data.augment import AugmentConfig, Augmenter, mix_waveforms
from aum.data.cache import FeatureCache
from aum.data.examples import Example
from aum.data.sampler import EpochSampler
from aum.data.webdataset import TAR_PREFIX, load_member, parse_reference
from aum.errors import DataError

log = logging.getLogger(__name__)


def item_seed(seed: int, epoch: int, index: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1  # a non-negative int64


class ClipDataset(Dataset):
    def __init__(self, examples: list[Example], num_classes: int, frontend: Frontend, multilabel: bool,
                 augment: AugmentConfig | None = None, cache_dir: str | Path | None = None,
                 labels: list[str] | None = None, seed: int = 0):
        self.examples = list(examples)
        self.num_classes = num_classes
        self.frontend = frontend
        self.multilabel = multilabel
        self.labels = list(labels) if labels is not None else [str(i) for i in range(num_classes)]
        config = augment or AugmentConfig()
        self.augmenter = Augmenter(config, frontend.sample_rate, frontend.samples_of()) if config.active else None
        self.cache = FeatureCache(cache_dir) if cache_dir else None
        if self.cache and config.waveform_level:
            log.info("feature cache %s not used: waveform augmentation (mixup/noise/shift) is on", cache_dir)
        self.seed, self.epoch = seed, 0
        self._bad = multiprocessing.Value("q", 0)  # shared with forked DataLoader workers
        self._warned: set[str] = set()
        self._mask_fill = -frontend.mean / (2.0 * frontend.std)  # a zero log-mel after normalisation
        for ex in self.examples:
            if any(not 0 <= t < num_classes for t in ex.target):
                raise DataError(f"{ex.path}: target {ex.target} outside 0..{num_classes - 1}")

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def bad_clips(self) -> int:
        return int(self._bad.value)

    @property
    def targets(self) -> list[list[int]]:
        return [ex.target for ex in self.examples]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def target(self, index: int) -> torch.Tensor:
        """(C,) float32 multi-hot (one-hot for single-label data)."""
        y = torch.zeros(self.num_classes)
        y[self.examples[index].target] = 1.0
        return y

    def _bad_clip(self, error: Exception, count: bool) -> None:
        if count:
            with self._bad.get_lock():
                self._bad.value += 1
        message = str(error)
        if message not in self._warned:
            self._warned.add(message)
            log.warning("bad clip skipped: %s", message)

    def waveform(self, index: int, count: bool = True) -> torch.Tensor | None:
        """(samples,) at the frontend's rate, or None when the clip cannot be read (logged once per file; counted
        in `bad_clips` unless `count=False`, used for mixup partners, so that each skipped item counts once)."""
        try:
            path = self.examples[index].path
            if path.startswith(TAR_PREFIX):
                return load_member(path, self.frontend.sample_rate)
            return load_audio(path, self.frontend.sample_rate)
        except AudioError as e:
            self._bad_clip(e, count)
        except OSError as e:
            self._bad_clip(AudioError(self.examples[index].path, str(e)), count)
        return None

    def _cache_entry(self, index: int):
        """The clip's cache file, or None without a cache or when the clip is missing (waveform() reports it)."""
        if self.cache is None:
            return None
        path, key = self.examples[index].path, self.frontend.cache_key()
        if path.startswith(TAR_PREFIX):  # keyed by the shard file (mtime, size) plus the member
            shard, member, offset, _ = parse_reference(path)
            path, key = shard, f"{key}|{member}@{offset}"
        try:
            return self.cache.entry(path, key)
        except OSError:
            return None

    def clean_features(self, index: int) -> torch.Tensor | None:
        """Un-augmented normalised fbank (T, F), through the feature cache when there is one."""
        entry = self._cache_entry(index)
        shape = (self.frontend.target_frames, self.frontend.num_mel_bins)
        cached = self.cache.load(entry, shape) if entry is not None else None
        if cached is not None:
            return cached
        wav = self.waveform(index)
        if wav is None:
            return None
        features = self.frontend(wav)  # (T, F)
        if entry is not None:
            self.cache.save(entry, features)
        return features

    def _augmented(self, index: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Waveform-level augmentation (mixup, noise) then features; returns (x (T, F), y (C,)) or None."""
        aug = self.augmenter
        wav, y = self.waveform(index), self.target(index)
        if wav is None:
            return None
        if aug.wants_mixup(generator):
            other = int(torch.randint(len(self), (), generator=generator))
            other_wav = self.waveform(other, count=False)
            if other_wav is not None:
                lam = aug.mixup_lambda(generator)
                wav = mix_waveforms(wav, other_wav, lam)
                y = lam * y + (1.0 - lam) * self.target(other)
        return self.frontend(aug.waveform(wav, generator)), y

    def __getitem__(self, index: int) -> dict | None:
        generator = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, index))
        if self.augmenter is not None and self.augmenter.config.waveform_level:
            pair = self._augmented(index, generator)
        else:
            features = self.clean_features(index)
            pair = None if features is None else (features, self.target(index))
        if pair is None:
            return None
        x, y = pair  # (T, F), (C,)
        if self.augmenter is not None:
            x = self.augmenter.spectrogram(x, self._mask_fill, generator)
        return {"x": x.float().contiguous(), "y": y, "index": index}


def collate(batch: list[dict | None]) -> dict | None:
    """Stack items into {"x": (B, T, F), "y": (B, C), "index": (B,)}, dropping bad (None) items."""
    items = [item for item in batch if item is not None]
    if not items:
        return None
    return {"x": torch.stack([it["x"] for it in items]), "y": torch.stack([it["y"] for it in items]),
            "index": torch.tensor([it["index"] for it in items], dtype=torch.long)}


def seed_worker(worker_id: int) -> None:
    """Seed python/numpy in a DataLoader worker from torch's per-worker seed (torch itself is seeded already)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (seeding the legacy global RNG is the point here)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, num_workers: int = 0, seed: int = 0,
                sampler=None, distributed: bool = False, drop_last: bool = False,
                pin_memory: bool = False) -> DataLoader:
    """DataLoader over `dataset` with `collate`, seeded workers and an `EpochSampler` (sharded over the process
    group when `distributed`) unless `sampler` is given. A ClipDataset takes `seed` for its augmentations."""
    if sampler is None:
        rank, world = (None, None) if distributed else (0, 1)
        sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, rank=rank, world_size=world,
                               drop_last=drop_last)
    if isinstance(dataset, ClipDataset):
        dataset.seed = seed
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      collate_fn=collate, worker_init_fn=seed_worker, drop_last=drop_last, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(seed), persistent_workers=False)


def set_epoch(loader: DataLoader, epoch: int, start: int = 0) -> None:
    """Before each epoch: the sampler's order (skipping `start` samples of this rank) and the dataset's epoch."""
    if hasattr(loader.sampler, "set_epoch"):
        if isinstance(loader.sampler, EpochSampler):
            loader.sampler.set_epoch(epoch, start)
        else:
            loader.sampler.set_epoch(epoch)
    if hasattr(loader.dataset, "set_epoch"):
        loader.dataset.set_epoch(epoch)
