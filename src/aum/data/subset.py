"""Downstream sets made from a Speech Commands-layout tree, as symlinks: `speaker_subset` (a low-label copy, for
fine-tuning experiments: `aum data speaker-subset SRC OUT --fraction 0.1`) and `speaker_id_set` (speaker
identification over its held-out speakers)."""

from __future__ import annotations

import logging
from pathlib import Path

from aum.data.examples import is_audio, require_dir, stable_fraction
from aum.errors import DataError

log = logging.getLogger(__name__)
SPLIT_LISTS = ("validation_list.txt", "testing_list.txt")


def held_out_clips(root: Path) -> set[str]:
    """The clips (`word/file`) named by the tree's validation and test lists."""
    held: set[str] = set()
    for name in SPLIT_LISTS:
        held |= {line.strip() for line in (root / name).read_text().splitlines() if line.strip()}
    return held


def speaker_of(clip: str) -> str:
    """The speaker of a Speech Commands clip `word/<speaker>_nohash_<k>.wav`."""
    return clip.split("/")[1].split("_nohash_")[0]


def speaker_subset(root: str | Path, out: str | Path, fraction: float, seed: int = 0) -> list[str]:
    """A Speech Commands tree at `out` (symlinks) keeping the validation/test lists and clips as they are and the
    training clips of round(fraction x speakers) training speakers only (at least one; speaker = file name before
    `_nohash_`), the ones with the smallest stable hash of (seed, speaker). For low-label fine-tuning experiments.
    Returns the kept speakers."""
    root, out = require_dir(root, "Speech Commands").resolve(), Path(out)
    if not 0 < fraction <= 1:
        raise DataError(f"fraction must be in (0, 1], got {fraction}")
    held = held_out_clips(root)
    clips = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*") if p.is_file() and is_audio(p)
                   and not p.parent.name.startswith(("_", ".")))
    speakers = sorted({speaker_of(c) for c in clips if c not in held})
    if not speakers:
        raise DataError(f"{root}: no training speakers found")
    count = max(1, round(fraction * len(speakers)))
    kept = sorted(sorted(speakers, key=lambda s: stable_fraction(f"{seed}:{s}"))[:count])
    keep = set(kept)
    out.mkdir(parents=True, exist_ok=False)
    for clip in clips:
        if clip in held or speaker_of(clip) in keep:
            (out / clip).parent.mkdir(exist_ok=True)
            (out / clip).symlink_to(root / clip)
    for name in SPLIT_LISTS:
        (out / name).write_text((root / name).read_text())
    log.info("%s: %d of %d training speakers kept", out, len(kept), len(speakers))
    return kept


def speaker_id_set(root: str | Path, out: str | Path, val_share: float = 0.2, test_share: float = 0.3) -> list[str]:
    """A speaker-identification set at `out` (folder-per-class layout, symlinks: `out/{train,val,test}/<speaker>/`)
    from the held-out (validation and test) speakers of a Speech Commands-layout tree: each speaker's clips are
    split by word, so a model is tested on words it never heard that speaker say. Of each speaker's words (sorted
    by a stable hash), `test_share` go to test, `val_share` to validation, the rest to training. Returns the
    speakers."""
    root, out = require_dir(root, "Speech Commands").resolve(), Path(out)
    by_speaker: dict[str, list[str]] = {}
    for clip in sorted(held_out_clips(root)):
        by_speaker.setdefault(speaker_of(clip), []).append(clip)
    if len(by_speaker) < 2:
        raise DataError(f"{root}: speaker identification needs at least 2 held-out speakers")
    out.mkdir(parents=True, exist_ok=False)
    for speaker, clips in by_speaker.items():
        ordered = sorted(clips, key=lambda c: stable_fraction(f"{speaker}:{c}"))
        n_test, n_val = max(1, round(test_share * len(clips))), max(1, round(val_share * len(clips)))
        if len(clips) < n_test + n_val + 1:
            raise DataError(f"{root}: speaker {speaker} has {len(clips)} clips; speaker identification needs at "
                            f"least {n_test + n_val + 1}")
        parts = {"test": ordered[:n_test], "val": ordered[n_test:n_test + n_val], "train": ordered[n_test + n_val:]}
        for split, chosen in parts.items():
            (out / split / speaker).mkdir(parents=True)
            for clip in chosen:
                (out / split / speaker / clip.replace("/", "_")).symlink_to(root / clip)
    log.info("%s: %d speakers", out, len(by_speaker))
    return sorted(by_speaker)
