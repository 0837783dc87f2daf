"""When things happen in a long recording: per-window scores with times, and events (the API behind
`aum predict FILE --timeline`).

    result = timeline_file(model, "meeting.flac", TimelineSettings(window=1.0, hop=0.25, threshold=0.5))
    result["events"]   # [{"label": "yes", "start": 12.3, "end": 13.5, "score": 0.97}, ...]

Windowed mode (default) streams the file (`aum.audio.stream`): blocks are decoded, resampled and turned into fbank
frames as they come, and each window goes to the model once `batch_size` of them have filled; memory does not grow
with the file's length. `whole=True` (Mamba models) runs the whole recording as ONE token sequence, whose cost is
linear in its length: the fbank is still streamed, the model sees every frame at once (positions stretched by
bilinear interpolation from the training grid, see docs/ARCHITECTURE.md), and window scores are read from the
encoder outputs: the patch tokens of each window's time span, mean-pooled, through the classifier.

A file that goes bad in the middle (decoding error, non-finite samples, truncation) keeps the windows before that
point; `result["error"]` then names the file and the time.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress

from aum.audio import FRAME_LENGTH_S, FRAME_SHIFT_S, AudioError, normalize, window_starts
from aum.audio.stream import DEFAULT_BLOCK_SECONDS, FbankStream, WindowStream, audio_duration, read_blocks
from aum.errors import ConfigError
from aum.models import AudioModel
from aum.models.layers import pair

log = logging.getLogger(__name__)
SPECTROGRAM_COLUMNS = 2000  # the plot's spectrogram is pooled down to about this many columns
MAMBA_FAMILIES = ("aum", "ssamba")  # linear in the sequence length: --whole is for these


@dataclasses.dataclass
class TimelineSettings:
    """window / hop in seconds (None: the model's training length / half a window); scores >= threshold make
    events, after averaging each label's score over `smooth` consecutive windows centred on each window (an odd
    number; 1: no averaging); an event lasts while its score stays >= low_threshold (None: the threshold; see
    `merge_events`);
    whole=True: one sequence for the whole recording (Mamba models)."""

    window: float | None = None
    hop: float | None = None
    batch_size: int = 16
    threshold: float = 0.5
    smooth: int = 1
    low_threshold: float | None = None
    whole: bool = False
    block_seconds: float = DEFAULT_BLOCK_SECONDS

    def __post_init__(self):
        for name in ("window", "hop"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"--{name} must be a positive number of seconds, got {value}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"--threshold must be in [0, 1], got {self.threshold}")
        low_threshold_of(self.threshold, self.low_threshold)  # a bad one is an error now, not after the model ran
        if self.smooth < 1 or self.smooth % 2 == 0:
            raise ConfigError(f"--smooth must be an odd number of windows (1, 3, 5, ...: each window's average is "
                              f"centred on it, so events keep their times), got {self.smooth}")

    def frames(self, frontend) -> tuple[int, int]:
        """(window, hop) in fbank frames."""
        window = frontend.target_frames if self.window is None else max(1, round(self.window / FRAME_SHIFT_S))
        hop = max(1, window // 2) if self.hop is None else max(1, round(self.hop / FRAME_SHIFT_S))
        return window, hop


class _SpectrogramKeeper:
    """The fbank pooled (mean) over groups of frames so that a long file's picture stays small."""

    def __init__(self, expected_frames: int):
        self.group = max(1, -(-expected_frames // SPECTROGRAM_COLUMNS))
        self.columns: list[torch.Tensor] = []
        self._rest: torch.Tensor | None = None

    def add(self, frames: torch.Tensor) -> None:
        x = frames if self._rest is None else torch.cat([self._rest, frames])
        whole = x.shape[0] // self.group * self.group
        if whole:
            self.columns.append(x[:whole].reshape(-1, self.group, x.shape[1]).mean(dim=1))
        self._rest = x[whole:]

    def image(self) -> np.ndarray:
        """(bins, columns) pooled log-mel energies, and seconds per column is group * 10 ms."""
        parts = self.columns + ([self._rest.mean(dim=0, keepdim=True)] if self._rest is not None and
                                self._rest.shape[0] else [])
        return torch.cat(parts).T.numpy() if parts else np.zeros((1, 0), np.float32)


def _scores(model: AudioModel, x: torch.Tensor) -> torch.Tensor:
    return model.scores(model(x.to(next(model.parameters()).device)))  # (B, C)


def _window_rows(starts: list[int], scores: torch.Tensor, window: int, duration: float,
                 labels: list[str]) -> list[dict]:
    rows = []
    for start, row in zip(starts, scores.tolist()):
        begin = start * FRAME_SHIFT_S
        end = begin + (window - 1) * FRAME_SHIFT_S + FRAME_LENGTH_S  # the window's last frame ends here
        rows.append({"start": round(begin, 3), "end": round(min(end, duration), 3),
                     "scores": {label: round(p, 5) for label, p in zip(labels, row)}})
    return rows


def _frames(path, frontend, block_seconds: float, keeper: _SpectrogramKeeper | None):
    """Yield unnormalised fbank frames (n, bins) of the file as it is decoded."""
    stream = FbankStream(frontend.sample_rate, frontend.num_mel_bins)
    for block in read_blocks(path, frontend.sample_rate, block_seconds):
        frames = stream.push(block)
        if frames.shape[0]:
            if keeper is not None:
                keeper.add(frames)
            yield frames


@torch.no_grad()
def _windowed(model, path, settings, frontend, labels, duration, keeper) -> tuple[list[dict], str | None]:
    window, hop = settings.frames(frontend)
    windows, rows, error = WindowStream(window, hop), [], None
    pending: list[tuple[int, torch.Tensor]] = []  # (start frame, (window, bins)) waiting for a full batch

    def flush():
        if pending:
            x = normalize(torch.stack([w for _, w in pending]), frontend.mean, frontend.std)  # (B, window, bins)
            rows.extend(_window_rows([s for s, _ in pending], _scores(model, x), window, duration, labels))
            pending.clear()

    try:
        for frames in _frames(path, frontend, settings.block_seconds, keeper):
            for item in windows.push(frames):
                pending.append(item)
                if len(pending) == settings.batch_size:
                    flush()
    except AudioError as e:
        error = str(e)
    pending.extend(windows.finish())
    flush()
    return rows, error


def window_token_scores(model, tokens: torch.Tensor, grid: tuple[int, int], starts: list[int], window: int,
                        stride: int) -> torch.Tensor:
    """Scores per window from one whole-sequence encoding: (1, L, D) tokens -> (W, C).

    Each window's patch tokens (all frequency rows, the time columns whose patch starts inside the window;
    at least one column) are mean-pooled and passed through the classifier with the model's activation."""
    _, patches = model.split_tokens(tokens)
    cells = patches.reshape(grid[0], grid[1], -1)  # (n_f, n_t, D), frequency-major tokens
    pooled = []
    for start in starts:
        first = min(start // stride, grid[1] - 1)
        last = max(first + 1, min(-(-(start + window) // stride), grid[1]))
        pooled.append(cells[:, first:last].mean(dim=(0, 1)))
    return model.scores(model.classifier()(torch.stack(pooled)))  # (W, C)


@torch.no_grad()
def _whole(model, path, settings, frontend, labels, duration, keeper) -> tuple[list[dict], str | None]:
    if model.config.family not in MAMBA_FAMILIES or model.config.resolved_pool != "mean":
        raise ConfigError("--whole --timeline needs a mean-pooled Mamba model (AuM / SSAMBA with pool=mean): "
                         "window scores are read from its per-token outputs")
    window, hop = settings.frames(frontend)
    chunks, error = [], None
    try:
        for frames in _frames(path, frontend, settings.block_seconds, keeper):
            chunks.append(frames)  # kept one by one: a file that goes bad part-way keeps what came before
    except AudioError as e:
        error = str(e)
    if not chunks:
        return [], error
    fb = torch.cat(chunks)  # (T, bins): linear in the length, as the model's own cost
    stride, size = pair(model.config.patch_stride)[1], pair(model.config.patch_size)[1]  # time axis of (f, t)
    if fb.shape[0] < max(window, size):
        fb = torch.nn.functional.pad(fb, (0, 0, 0, max(window, size) - fb.shape[0]))
    x = normalize(fb, frontend.mean, frontend.std)[None].to(next(model.parameters()).device)
    grid = model.patch_grid(x.shape[1])
    tokens = model.forward_features(x)  # (1, L, D)
    starts = window_starts(fb.shape[0], window, hop)
    scores = window_token_scores(model, tokens, grid, starts, window, stride)
    return _window_rows(starts, scores, window, duration, labels), error


def smoothed_scores(windows: list[dict], span: int) -> list[dict[str, float]]:
    """Each window's scores averaged with its neighbours: the `span` (odd) consecutive windows centred on it
    (fewer at the recording's ends). An even span would centre the average half a hop off the window's time."""
    if span % 2 == 0:
        raise ValueError(f"smoothing span must be odd, got {span}")
    if span <= 1:
        return [row["scores"] for row in windows]
    labels = list(windows[0]["scores"]) if windows else []
    table = np.array([[row["scores"][label] for label in labels] for row in windows]).reshape(len(windows), -1)
    sums = np.vstack([np.zeros((1, len(labels))), np.cumsum(table, axis=0)])
    half, out = span // 2, []
    for i in range(len(windows)):
        lo, hi = max(0, i - half), min(len(windows), i + half + 1)
        out.append(dict(zip(labels, ((sums[hi] - sums[lo]) / (hi - lo)).tolist())))
    return out


def low_threshold_of(threshold: float, low: float | None) -> float:
    """The low threshold that `low` means (None: the threshold itself); ConfigError outside [0, threshold]."""
    low = threshold if low is None else low
    if not 0.0 <= low <= threshold:
        raise ConfigError(f"--low-threshold must be in [0, --threshold {threshold:g}], got {low:g}")
    return low


def merge_events(windows: list[dict], threshold: float, smooth: int = 1, low: float | None = None) -> list[dict]:
    """Runs of consecutive windows whose score for a label stays >= `low` and reaches `threshold` at least once,
    one event each: {"label", "start" (first window's start), "end" (last window's end), "score" (the run's
    highest)}. low=None: `threshold` itself (runs of windows >= threshold); a lower `low` (double thresholding,
    hysteresis) keeps an event whole across a window that dips under the threshold, where the label's score is
    shared with a similar one, instead of cutting it into two events half a run off the true time each.
    smooth > 1: the scores are first averaged over that many consecutive windows (`smoothed_scores`), so that a
    lone window above the threshold between low ones makes no event."""
    low = low_threshold_of(threshold, low)
    scores, events = smoothed_scores(windows, smooth), []

    def close(label: str, run: list[tuple[dict, float]]) -> None:
        if run and (best := max(q for _, q in run)) >= threshold:
            events.append({"label": label, "start": run[0][0]["start"], "end": run[-1][0]["end"], "score": best})

    for label in list(windows[0]["scores"]) if windows else []:
        run: list[tuple[dict, float]] = []
        for row, row_scores in zip(windows, scores):
            if row_scores[label] >= low:
                run.append((row, row_scores[label]))
            else:
                close(label, run)
                run = []
        close(label, run)
    return sorted(events, key=lambda e: (e["start"], e["label"]))


def timeline_file(model, path: str | Path, settings: TimelineSettings | None = None,
                  spectrogram: bool = False) -> dict:
    """{"file", "duration", "windows": [{"start", "end", "scores": {label: p}}], "events": [...]} for one file;
    plus "error" when the file went bad part-way (the windows before that point are kept) and, with
    spectrogram=True, "spectrogram": ((bins, columns) array, seconds per column) for plotting."""
    settings = settings or TimelineSettings()
    model.eval()
    frontend, labels = model.frontend(), model.label_names()
    duration = audio_duration(path)
    keeper = _SpectrogramKeeper(int(duration / FRAME_SHIFT_S)) if spectrogram else None
    run = _whole if settings.whole else _windowed
    rows, error = run(model, path, settings, frontend, labels, duration, keeper)
    if error:
        log.warning("%s (timeline kept up to there: %d windows)", error, len(rows))
    if not rows and error:
        raise AudioError(path, error.split(": ", 1)[-1])
    result = {"file": str(path), "duration": round(duration, 3), "windows": rows,
              "events": merge_events(rows, settings.threshold, settings.smooth, settings.low_threshold)}
    if error:
        result["error"] = error
    if keeper is not None:
        result["spectrogram"] = (keeper.image(), keeper.group * FRAME_SHIFT_S)
    return result


def timeline_files(model, paths: list[Path], settings: TimelineSettings | None = None, spectrogram: bool = False,
                   progress: bool = True) -> dict:
    """{"timelines": [timeline_file results], "bad_files": [{"file", "error"}]}; a folder gets a progress bar
    (on stderr). An unreadable file is skipped, counted and logged, never fatal."""
    out: dict = {"timelines": [], "bad_files": []}
    bar = None
    if progress and len(paths) > 1:
        bar = Progress(console=Console(stderr=True), transient=True)
        task = bar.add_task("timeline", total=len(paths))
        bar.start()
    try:
        for path in paths:
            try:
                out["timelines"].append(timeline_file(model, path, settings, spectrogram))
            except AudioError as e:
                log.warning("bad clip skipped: %s", e)
                out["bad_files"].append({"file": str(path), "error": str(e)})
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    return out
