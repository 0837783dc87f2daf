"""The `--timeline` part of `aum predict`: options, and the run that prints a table, JSON or CSV and writes PNGs.

    aum predict long.flac --checkpoint runs/demo/best --timeline --window 1 --hop 0.25 --threshold 0.6 --plot t.png
"""

from __future__ import annotations

import json

from aum.devices import resolve_device
from aum.errors import ConfigError
from aum.inference.predict import audio_paths
from aum.inference.timeline import TimelineSettings, timeline_files
from aum.inference.timeline_report import events_table, json_ready, plot_paths, plot_timeline, windows_csv
from aum.models import from_pretrained


def add_arguments(p) -> None:
    g = p.add_argument_group("timeline (long recordings, streamed: memory does not grow with the file's length)")
    g.add_argument("--timeline", action="store_true",
                   help="per-window scores with start/end times, and events (windows above --threshold, merged)")
    g.add_argument("--window", type=float, default=None,
                   help="timeline window in seconds (default: the model's training length)")
    g.add_argument("--batch-size", type=int, default=16, help="timeline windows per model call (default 16)")
    g.add_argument("--threshold", type=float, default=0.5, help="score that makes an event (default 0.5)")
    g.add_argument("--low-threshold", type=float, default=None, metavar="P",
                   help="an event lasts while its score stays >= P and needs one window >= --threshold "
                   "(hysteresis; default: --threshold): a window that dips between the two keeps it one event")
    g.add_argument("--smooth", type=int, default=1, metavar="N",
                   help="average each label's score over the N (odd) windows centred on each window before the "
                   "threshold (default 1: off); a lone window above it then makes no event")
    g.add_argument("--csv", action="store_true", help="print the window scores as CSV (one column per label)")
    g.add_argument("--plot", default=None, metavar="OUT.png",
                   help="spectrogram with the top classes' scores beneath (one PNG per file for a folder)")


TIMELINE_ONLY = {"window": None, "batch_size": 16, "threshold": 0.5, "low_threshold": None, "smooth": 1,
                 "csv": False, "plot": None}


def check_without_timeline(args) -> None:
    """Timeline options given without --timeline would be ignored: say so instead."""
    given = [f"--{k.replace('_', '-')}" for k, default in TIMELINE_ONLY.items() if getattr(args, k) != default]
    if given and not args.timeline:
        raise ConfigError(f"{', '.join(given)} only {'applies' if len(given) == 1 else 'apply'} with --timeline")


def run(args) -> int:
    settings = TimelineSettings(window=args.window, hop=args.hop, batch_size=args.batch_size,
                                threshold=args.threshold, smooth=args.smooth,
                                low_threshold=args.low_threshold, whole=args.whole)

    model = from_pretrained(args.checkpoint).to(resolve_device(args.device))
    result = timeline_files(model, audio_paths(args.path), settings, spectrogram=bool(args.plot))
    if args.plot:
        timelines = result["timelines"]
        for tl, out in zip(timelines, plot_paths(args.plot, len(timelines), [t["file"] for t in timelines])):
            plot_timeline(tl, out, threshold=args.threshold)
    if args.json:
        print(json.dumps(json_ready(result), indent=2))
    elif args.csv:
        print(windows_csv(result), end="")
    else:
        events_table(result)
    return 0 if result["timelines"] else 1
