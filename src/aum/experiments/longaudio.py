"""`aum bench longaudio`: keywords found in long recordings, and clip accuracy vs input length, AuM vs AST.

1. Data and models (reused when WORK already holds them): the espeak-ng word set, --per-voice renders per voice
   (`longaudio_data.render_raw`), and the keyword-spotting training set built from it (`longaudio_trainset`:
   keywords at random offsets; `other` = unrelated words, keywords cut by the window edge, babble, noise);
   AuM-tiny and AST-tiny at the same reduced depth and patch grid (--patch-stride, --frames), mean pooling, the
   demo recipe (`aum.train.recipes.DEMO`, with RECIPE_CHANGES) plus background-noise augmentation (probability
   --noise, SNR NOISE_SNR dB, noises of other draws than the recordings'), each clip's sound moved inside the window
   every epoch (--shift), --mel-bins, and SpecAugment when --freqm / --timem are given. Training time and clean
   test accuracy (unseen voices): training.csv.
2. Detection: recordings of --detect-seconds each with --keywords of the test voices (never heard in training)
   at random times in changing noise and unseen words; `aum.inference.timeline` (window = the training length, --hop);
   a keyword counts as found when an event of its label has its centre within one hop of the keyword's centre.
   Events of other labels, or too far away, are false alarms. `top1_at_keyword` counts keywords whose label tops
   the window centred nearest to them (the classifier in context), `known_alone` those whose render the model
   labels right as a clip of its own, and `found_of_known` how many of these the timeline found: what it misses
   beyond the classifier's own errors. Three event settings per model and mode, each a
   row: --threshold alone without smoothing (`threshold`, the library's default events), the same with
   --low-threshold (`hysteresis`: an event lasts while its score stays above it), and the (threshold, smooth,
   low) of THRESHOLD_CHOICES x SMOOTH_CHOICES x LOW_CHOICES with the most keywords found minus false alarms on
   --val-recordings recordings of the validation voices over the training noises (`chosen on val`). Nothing is
   tuned on the test recordings.
3. Accuracy vs length: a clip of L seconds holding one keyword; the answer is the best keyword class (`other`
   excluded) of (a) the window scores averaged (`AudioModel.predict`), (b) the highest window score, and
   (c) one whole-sequence pass (`whole=True`; positions interpolated from the 1 s training grid).
Writes training.csv, detection.csv, accuracy.csv and accuracy_vs_length.png to --out and prints the tables.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from aum.bench import print_table, write_csv
from aum.errors import ConfigError
from aum.experiments.longaudio_data import KEYWORDS, OTHER, RATE, make_recording, render_raw
from aum.experiments.longaudio_trainset import build_training_set
from aum.inference.timeline import TimelineSettings, low_threshold_of, merge_events, timeline_file
from aum.models import from_pretrained
from aum.plotting import pyplot
from aum.train import run_training
from aum.train.config import config_from_dict
from aum.train.recipes import DEMO

log = logging.getLogger(__name__)
MODELS = ("aum_tiny", "ast_tiny")
NOISE_SNR = (0.0, 30.0)  # dB, the training's background-noise augmentation (the recordings: -3 to 37 dB per 1 s)
# both models: with noise augmentation, the demo's lr 2e-3 and 20 warm-up steps left AST-tiny at chance (train loss
# 2.08 after 5 epochs) and AuM-tiny slow (32 % validation accuracy after 6 of 20 epochs), measured on this set
RECIPE_CHANGES = {"optim": {"lr": 5.0e-4}, "schedule": {"warmup_steps": 200}}
THRESHOLD_CHOICES, SMOOTH_CHOICES = (0.5, 0.6, 0.7, 0.8, 0.9), (1, 3, 5)  # event settings tried on validation
LOW_CHOICES = (None, 0.3, 0.2, 0.1)  # None: the threshold itself


OPTIONS = (  # flag, type, default, help
    ("--out", str, "bench_out/longaudio", "folder for the CSVs and the PNG"),
    ("--work", str, "bench_out/longaudio_work", "data and trained models (reused)"),
    ("--voices", int, 776, "espeak-ng voices for the keyword set (776: every accent x variant of espeak-ng 1.51; "
                           "the run says how many another version has)"),
    ("--per-voice", int, 3, "renders of each word per voice"),
    ("--epochs", int, 12, "training epochs of both models (12: better than 8 on both models' clean validation "
                          "accuracy and validation recordings)"),
    ("--depth", int, 4, "layers of both models (reduced for the CPU)"),
    ("--mel-bins", int, 64, "fbank bins of both models (the demo's 64)"),
    ("--patch-stride", int, 10, "16 x 16 patches at this stride, both models (10: the Speech Commands recipes' "
                                "overlapping patches; AuM's own default is 16)"),
    ("--frames", int, 96, "input frames of both models, the timeline's window (96: the longest that 16-wide patches "
                          "at stride 10 or 16 see to the last frame, of the 98 of a 1 s clip; the demo's 100 leaves "
                          "the last 4 unseen)"),
    ("--shift", float, 1.0, "training augmentation: move each clip's sound by up to this many seconds inside the "
                            "window, every epoch anew (`augment.shift`; 0: off)"),
    ("--freqm", int, 0, "SpecAugment: one frequency mask under this many bins"),
    ("--timem", int, 0, "SpecAugment: one time mask under this many frames"),
    ("--noise", float, 0.8, f"probability of background-noise augmentation in training (SNR "
                            f"{NOISE_SNR[0]:g}-{NOISE_SNR[1]:g} dB)"),
    ("--recordings", int, 8, "test recordings (test voices, unseen noise draws)"),
    ("--val-recordings", int, 4, "recordings of validation voices over training noises: event settings are chosen "
                                 "on them"),
    ("--detect-seconds", float, 180.0, "length of each detection recording in seconds"),
    ("--keywords", int, 16, "keywords per detection recording"),
    ("--hop", float, 0.25, "timeline hop in seconds"),
    ("--threshold", float, 0.5, "the `threshold` / `hysteresis` rows' threshold (no smoothing)"),
    ("--low-threshold", float, 0.2, "the `hysteresis` rows' low threshold (0.2: of 0.1 / 0.2 / 0.3, the most "
                                    "keywords found on both models' validation recordings, with fewer false alarms "
                                    "than 0.3)"),
    ("--lengths", str, "1,10,30,60,300", "clip lengths in seconds"),
    ("--clips", int, 20, "clips per length (halved above 60 s)"),
    ("--seed", int, 0, "seed of the data and the recordings"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    for flag, kind, default, text in OPTIONS:
        p.add_argument(flag, type=kind, default=default, help=text)


def training_settings(args) -> dict:
    """What the two models are trained with, from the command line (kept in each run's bench_training.json)."""
    return {k: getattr(args, k) for k in ("epochs", "depth", "noise", "mel_bins", "patch_stride", "frames",
                                          "shift", "freqm", "timem")}


def trained_model(name: str, work: Path, data: Path, settings: dict):
    """(model, {"model", **settings, "train_s", "test_accuracy", ...}) for `training_settings`; trained once per
    WORK: a run folder trained with other settings is an error, never silently reused."""
    run_dir = work / f"run_{name}"
    record = run_dir / "bench_training.json"
    if not (run_dir / "best").exists() or not record.is_file():
        raw = copy.deepcopy(DEMO)
        raw["model"] = {"name": name, "depth": settings["depth"], "pool": "mean",
                        "patch_stride": settings["patch_stride"]}
        raw["data"].update(root=str(data), cache_dir=str(work / "cache"))
        raw["train"]["epochs"] = settings["epochs"]
        raw["frontend"].update(num_mel_bins=settings["mel_bins"], target_frames=settings["frames"])
        raw["augment"] = {"freqm": settings["freqm"], "timem": settings["timem"], "shift": settings["shift"]}
        if settings["noise"]:
            raw["augment"].update(noise=settings["noise"], noise_snr=list(NOISE_SNR))
        for section, values in RECIPE_CHANGES.items():
            raw[section].update(values)
        started = time.perf_counter()
        summary = run_training(config_from_dict(raw), run_dir)
        info = {"model": name, **settings, "lr": raw["optim"]["lr"],
                "warmup_steps": raw["schedule"]["warmup_steps"], "train_s": round(time.perf_counter() - started, 1),
                "test_accuracy": round(float(summary["test"]["accuracy"]), 4),
                "test_clips": int(summary["test"]["num_clips"])}
        record.write_text(json.dumps(info))
        log.info("%s: %s", name, info)
    model = from_pretrained(run_dir / "best").eval()
    held = {"freqm": 0, "timem": 0, "shift": 0.0, **json.loads(record.read_text())}  # older records: without them
    held.update(depth=model.config.depth, mel_bins=model.config.mel_bins, patch_stride=model.config.patch_stride,
                frames=model.config.input_frames)  # the architecture from the checkpoint itself
    if differ := {k: (held[k], v) for k, v in settings.items() if held.get(k, v) != v}:
        raise ConfigError(f"{run_dir}: trained with " + ", ".join(f"{k}={h}" for k, (h, _) in differ.items())
                          + "; this run asks " + ", ".join(f"{k}={v}" for k, (_, v) in differ.items())
                          + ": pass another --work (or delete the run folder to retrain)")
    return model, held


def match_events(truth: list[dict], events: list[dict], hop: float) -> tuple[list[bool], list[float], int]:
    """(found or not, per keyword; |time error| of each found one; false alarms): greedy, nearest centre first."""
    centre = lambda x: (x["start"] + x["end"]) / 2
    unused = [e for e in events if e["label"] != OTHER]
    hits, errors = [], []
    for t in truth:
        same = [e for e in unused if e["label"] == t["label"]]
        best = min(same, key=lambda e: abs(centre(e) - centre(t)), default=None)
        hits.append(best is not None and abs(centre(best) - centre(t)) <= hop)
        if hits[-1]:
            errors.append(abs(centre(best) - centre(t)))
            unused.remove(best)
    return hits, errors, len(unused)


@torch.no_grad()
def known_alone(model, truth: list[dict]) -> list[dict]:
    """The keywords, each with "known_alone": whether the model labels its render right as a clip of its own
    (the clean test accuracy's question, asked of the very clips in the recording)."""
    def right(t: dict) -> bool:
        return model.predict(soundfile.read(t["clip"], dtype="float32")[0], RATE, top_k=1)[0][0] == t["label"]

    return [{**t, "known_alone": right(t)} for t in truth]


def right_at_keyword(truth: list[dict], windows: list[dict]) -> int:
    """Keywords whose label tops the window centred nearest to them: the classifier alone, no threshold."""
    centre = lambda x: (x["start"] + x["end"]) / 2
    hits = 0
    for t in truth:
        w = min(windows, key=lambda w: abs(centre(w) - centre(t)))
        hits += max(w["scores"], key=w["scores"].get) == t["label"]
    return hits


def write_recordings(raw: Path, work: Path, count: int, seconds: float, keywords: int, rng, split: str = "test",
                     noise_root: Path | None = None) -> list[tuple[Path, list[dict]]]:
    out = []
    for i in range(count):
        audio, truth = make_recording(raw, seconds, keywords, rng, split=split, noise_root=noise_root)
        path = work / f"detect_{split}_{i}.wav"
        soundfile.write(path, audio, RATE, subtype="PCM_16")
        out.append((path, truth))
    return out


def score_settings(timelines: list[tuple[list[dict], list[dict]]], threshold: float, smooth: int,
                   hop: float, low: float | None = None) -> dict:
    """Detection figures of (windows, truth) pairs when events are made with `threshold`, `smooth` and `low`
    (`aum.inference.timeline.merge_events`)."""
    found = alarms = total = right = known = found_known = 0
    errors: list[float] = []
    for windows, truth in timelines:
        hits, e, a = match_events(truth, merge_events(windows, threshold, smooth, low), hop)
        right += right_at_keyword(truth, windows)
        alone = [bool(t.get("known_alone")) for t in truth]
        known, found_known = known + sum(alone), found_known + sum(h and k for h, k in zip(hits, alone))
        found, alarms, total, errors = found + sum(hits), alarms + a, total + len(truth), errors + e
    return {"threshold": threshold, "low_threshold": low_threshold_of(threshold, low), "smooth": smooth,
            "keywords": total, "found": found,
            "detection_rate": round(found / max(total, 1), 3),
            "mean_time_error_s": round(float(np.mean(errors)), 3) if errors else "",
            "max_time_error_s": round(float(np.max(errors)), 3) if errors else "",
            "false_alarms": alarms, "top1_at_keyword": right, "known_alone": known, "found_of_known": found_known}


def chosen_on_validation(timelines, hop: float) -> tuple[float, int, float | None]:
    """(threshold, smooth, low) with the most keywords found minus false alarms on the validation recordings
    (ties: less smoothing, then the lower threshold, then a single threshold before hysteresis)."""
    def merit(setting: tuple[float, int, float | None]) -> tuple:
        threshold, smooth, low = setting
        r = score_settings(timelines, threshold, smooth, hop, low)
        return r["found"] - r["false_alarms"], -smooth, -threshold, r["low_threshold"]

    return max([(t, s, low) for s in SMOOTH_CHOICES for t in THRESHOLD_CHOICES for low in LOW_CHOICES
                if low is None or low < t], key=merit)


def detection_rows(models: dict, raw: Path, args, work: Path) -> list[dict]:
    """Per model and mode: the test recordings at --threshold without smoothing, alone and with --low-threshold,
    and at the (threshold, smooth, low) chosen on recordings of the validation voices over the training noises
    (never the test recordings)."""
    test = write_recordings(raw, work, args.recordings, args.detect_seconds, args.keywords,
                            np.random.default_rng([args.seed, 1]))
    val = write_recordings(raw, work, args.val_recordings, args.detect_seconds, args.keywords,
                           np.random.default_rng([args.seed, 3]), split="val", noise_root=work / "kw_train")
    rows = []
    for name, model in models.items():
        marked = {"test": [(path, known_alone(model, truth)) for path, truth in test],  # once per model
                  "val": [(path, known_alone(model, truth)) for path, truth in val]}
        for whole in (False, True) if name.startswith("aum") else (False,):
            settings = TimelineSettings(hop=args.hop, whole=whole, batch_size=32)
            started = time.perf_counter()
            timelines = {part: [(timeline_file(model, path, settings)["windows"], truth) for path, truth in items]
                         for part, items in marked.items()}
            seconds = round(time.perf_counter() - started, 1)
            chosen = chosen_on_validation(timelines["val"], args.hop)
            for events_by, (t, s, low) in (("threshold", (args.threshold, 1, None)),
                                           ("hysteresis", (args.threshold, 1, args.low_threshold)),
                                           ("chosen on val", chosen)):
                rows.append({"model": name, "mode": "whole" if whole else "windowed", "events": events_by,
                             **score_settings(timelines["test"], t, s, args.hop, low),
                             "minutes": round(args.recordings * args.detect_seconds / 60, 1),
                             "timeline_s": seconds})
                log.info("detection %s", rows[-1])
    return rows


@torch.no_grad()
def clip_answers(model, wave: np.ndarray, keyword_ids: list[int]) -> dict[str, int]:
    """Best keyword class of one clip under the three poolings (see the module docstring)."""
    scores = torch.from_numpy(model.window_scores(wave, RATE, batch_size=64))[:, keyword_ids]  # (W, K)
    whole = model.window_scores(wave, RATE, whole=True)[0, keyword_ids]
    return {"windowed_mean": int(scores.mean(0).argmax()), "windowed_max": int(scores.max(0).values.argmax()),
            "whole": int(whole.argmax())}


def accuracy_rows(models: dict, raw: Path, args) -> list[dict]:
    lengths = [float(x) for x in args.lengths.split(",")]
    rng = np.random.default_rng([args.seed, 2])
    clips = {length: [make_recording(raw, length, 1, rng) for _ in range(args.clips if length <= 60
                                                                        else max(2, args.clips // 2))]
             for length in lengths}
    rows = []
    for name, model in models.items():
        labels = model.meta["labels"]
        keyword_ids = [labels.index(k) for k in KEYWORDS]
        for length, items in clips.items():
            correct, count, started = {}, 0, time.perf_counter()
            for audio, truth in items:
                if not truth:
                    continue
                count += 1
                target = KEYWORDS.index(truth[0]["label"])
                for mode, answer in clip_answers(model, audio, keyword_ids).items():
                    correct[mode] = correct.get(mode, 0) + int(answer == target)
            row = {"model": name, "seconds": length, "clips": count}
            row.update({mode: round(c / max(count, 1), 3) for mode, c in correct.items()})
            row["run_s"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            log.info("accuracy %s", row)
    return rows


def columns_of(rows: list[dict]) -> list[str]:
    """Every key of the rows, in first-seen order (a reused run's record may lack newer keys)."""
    return list(dict.fromkeys(k for row in rows for k in row))


def plot_accuracy(rows: list[dict], path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4))
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        for mode, style in (("windowed_mean", "-"), ("windowed_max", "--"), ("whole", ":")):
            ax.plot([r["seconds"] for r in mine], [r[mode] for r in mine], style, marker="o", label=f"{name} {mode}")
    ax.axhline(1 / len(KEYWORDS), color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("clip length (s), one keyword inside")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args) -> int:
    torch.set_num_threads(1)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    raw = render_raw(work / "kw_raw", args.voices, args.seed, args.per_voice)
    data = build_training_set(raw, work / "kw_train", seed=args.seed)
    trained = {name: trained_model(name, work, data, training_settings(args)) for name in MODELS}
    models = {name: model for name, (model, _) in trained.items()}
    training = [info for _, info in trained.values()]
    detection = detection_rows(models, raw, args, work)
    accuracy = accuracy_rows(models, raw, args)
    plot_accuracy(accuracy, out / "accuracy_vs_length.png")
    for name, rows in (("training", training), ("detection", detection), ("accuracy", accuracy)):
        columns = columns_of(rows)
        write_csv(out / f"{name}.csv", rows, columns)
        widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
        print_table(rows, [(c, c, f">{widths[c]}") for c in columns])
    return 0
