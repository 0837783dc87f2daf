"""`speaker_subset`: a low-label copy (symlinks) of a Speech Commands-layout tree, for fine-tuning experiments
(`aum data speaker-subset SRC OUT --fraction 0.1`)."""

from __future__ import annotations

import logging
from pathlib import Path

from aum.data.examples import is_audio, require_dir, stable_fraction
from aum.errors import DataError

log = logging.getLogger(__name__)


def speaker_subset(root: str | Path, out: str | Path, fraction: float, seed: int = 0) -> list[str]:
    """A Speech Commands tree at `out` (symlinks) keeping the validation/test lists and clips as they are and the
    training clips of round(fraction x speakers) training speakers only (at least one; speaker = file name before
    `_nohash_`), the ones with the smallest stable hash of (seed, speaker). For low-label fine-tuning experiments.
    Returns the kept speakers."""
    root, out = require_dir(root, "Speech Commands").resolve(), Path(out)
    if not 0 < fraction <= 1:
        raise DataError(f"fraction must be in (0, 1], got {fraction}")
    held = set()
    for name in ("validation_list.txt", "testing_list.txt"):
        held |= {line.strip() for line in (root / name).read_text().splitlines() if line.strip()}
    clips = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*") if p.is_file() and is_audio(p)
                   and not p.parent.name.startswith(("_", ".")))
    speakers = sorted({c.split("/")[1].split("_nohash_")[0] for c in clips if c not in held})
    if not speakers:
        raise DataError(f"{root}: no training speakers found")
    count = max(1, round(fraction * len(speakers)))
    kept = sorted(sorted(speakers, key=lambda s: stable_fraction(f"{seed}:{s}"))[:count])
    keep = set(kept)
    out.mkdir(parents=True, exist_ok=False)
    for clip in clips:
        if clip in held or clip.split("/")[1].split("_nohash_")[0] in keep:
            (out / clip).parent.mkdir(exist_ok=True)
            (out / clip).symlink_to(root / clip)
    for name in ("validation_list.txt", "testing_list.txt"):
        (out / name).write_text((root / name).read_text())
    log.info("%s: %d of %d training speakers kept", out, len(kept), len(speakers))
    return kept
