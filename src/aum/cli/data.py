"""`aum data`: `speech-commands-synth OUT` (espeak-ng keyword set), `stats TARGET` (fbank mean/std) and
`speaker-subset SRC OUT` (low-label copy of a Speech Commands-layout tree)."""

from __future__ import annotations

import json

from aum.audio import Frontend
from aum.cli.parsers import add_action, add_actions, add_json_flag
from aum.data.stats import clip_paths, feature_stats, subsample
from aum.data.subset import speaker_subset
from aum.data.synth import SPEECH_COMMANDS_WORDS, synthesize_speech_commands
from aum.errors import ConfigError


def register(sub) -> None:
    actions = add_actions(sub, "data", help="generate the built-in keyword set; dataset statistics")

    synth = add_action(actions, "speech-commands-synth", run_synth, help="render spoken keywords with espeak-ng "
                       "into the Speech Commands v2 layout (voices disjoint between train/validation/test)")
    synth.add_argument("out", help="output folder (created; must be empty unless --overwrite)")
    words = synth.add_mutually_exclusive_group()
    words.add_argument("--words", type=int, default=10, help="first N words of Speech Commands (default 10, max 35)")
    words.add_argument("--word-list", nargs="+", metavar="WORD", help="explicit words instead of --words")
    synth.add_argument("--voices", type=int, default=40, help="number of speakers (default 40)")
    synth.add_argument("--per-voice", type=int, default=2, help="clips per word and voice (default 2)")
    synth.add_argument("--val-fraction", type=float, default=0.1, help="share of voices for validation")
    synth.add_argument("--test-fraction", type=float, default=0.1, help="share of voices for test")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--jobs", type=int, default=None, help="processes (default: all CPU cores)")
    synth.add_argument("--overwrite", action="store_true", help="replace a previously generated set in OUT")

    stats = add_action(actions, "stats", run_stats,
                       help="mean/std of the fbank over a dataset, for the frontend's mean/std")
    stats.add_argument("target", help="a YAML config with a data: section, an AST .json manifest, or a folder")
    stats.add_argument("--frames", type=int, default=1024, help="target frames, padding included as in AST "
                       "(1024 for 10 s clips, 128 for Speech Commands, 512 for ESC-50; default 1024)")
    stats.add_argument("--split", default="train", help="split of a YAML data config (default train)")
    stats.add_argument("--max-clips", type=int, default=2000, help="random subset size (default 2000; 0 = all)")
    stats.add_argument("--seed", type=int, default=0)
    add_json_flag(stats)

    subset = add_action(actions, "speaker-subset", run_subset, help="a low-label copy (symlinks) of a Speech "
                        "Commands-layout tree: all validation/test clips, the training clips of a fraction of the "
                        "speakers")
    subset.add_argument("src", help="Speech Commands-layout folder (e.g. from speech-commands-synth)")
    subset.add_argument("out", help="new folder (must not exist)")
    subset.add_argument("--fraction", type=float, default=0.1, help="share of training speakers kept (default 0.1)")
    subset.add_argument("--seed", type=int, default=0)


def run_synth(args) -> int:
    if args.word_list is None and not 1 <= args.words <= len(SPEECH_COMMANDS_WORDS):
        raise ConfigError(f"--words must be in 1..{len(SPEECH_COMMANDS_WORDS)} (or use --word-list)")
    summary = synthesize_speech_commands(
        args.out, words=args.word_list, num_words=args.words, num_voices=args.voices, per_voice=args.per_voice,
        seed=args.seed, jobs=args.jobs, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        overwrite=args.overwrite)
    voices = summary["voices"]
    print(f"wrote {summary['clips']} clips ({len(summary['words'])} words; voices train/val/test "
          f"{voices['train']}/{voices['val']}/{voices['test']}) to {summary['out']} in {summary['seconds']:.1f} s "
          f"({summary['jobs']} processes)")
    return 0


def run_subset(args) -> int:
    kept = speaker_subset(args.src, args.out, args.fraction, args.seed)
    print(f"wrote {args.out}: training clips of {len(kept)} speakers, validation/test lists unchanged")
    return 0


def run_stats(args) -> int:
    paths = subsample(clip_paths(args.target, args.split), args.max_clips or None, args.seed)
    if not paths:
        raise ConfigError(f"{args.target}: no audio clips found")
    result = feature_stats(paths, Frontend(target_frames=args.frames))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"mean {result['mean']:.7f}  std {result['std']:.7f}  ({result['clips']} clips, {result['bad']} bad, "
              f"{args.frames} frames)")
        print(f"frontend: mean: {result['mean']:.7f}, std: {result['std']:.7f}")
    return 0
