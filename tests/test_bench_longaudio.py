"""Long-audio benchmark helpers: recordings hold their keywords where the ground truth says, and events are matched
to keywords within one hop (label and centre), the rest counted as false alarms."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from aum.audio import Frontend
from aum.data.readers import NOISE_FOLDER
from aum.errors import ConfigError
from aum.experiments.longaudio import (
    chosen_on_validation,
    known_alone,
    match_events,
    right_at_keyword,
    score_settings,
    trained_model,
)
from aum.experiments.longaudio_data import KEYWORDS, RATE, UNSEEN_WORDS, make_recording
from aum.models import create_model, save_pretrained


def _fake_raw(root):
    """A tiny raw set laid out like the rendered one: each word a 0.4 s tone burst of its own pitch at 0.3 s into a
    1 s clip with a light white-noise floor; two test voices, one noise."""
    (root / NOISE_FOLDER).mkdir(parents=True)
    soundfile.write(root / NOISE_FOLDER / "white.wav", 0.1 * np.random.default_rng(0).standard_normal(RATE * 10), RATE)
    lines, rng = [], np.random.default_rng(1)
    for i, word in enumerate(KEYWORDS + UNSEEN_WORDS):
        (root / word).mkdir()
        for voice in ("v1", "v2"):
            clip = 0.01 * rng.standard_normal(RATE)
            t = np.arange(int(0.4 * RATE)) / RATE
            clip[int(0.3 * RATE):int(0.7 * RATE)] += 0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t)
            soundfile.write(root / word / f"{voice}_nohash_0.wav", clip, RATE)
            lines.append(f"{word}/{voice}_nohash_0.wav")
    (root / "testing_list.txt").write_text("\n".join(lines) + "\n")
    return root


def test_recording_places_keywords_where_the_truth_says(tmp_path):
    raw = _fake_raw(tmp_path / "raw")
    audio, truth = make_recording(raw, 60.0, 6, np.random.default_rng(3))
    assert audio.shape == (60 * RATE,) and len(truth) == 6
    assert all(t["label"] in KEYWORDS for t in truth)
    assert [t["start"] for t in truth] == sorted(t["start"] for t in truth)
    for a, b in zip(truth, truth[1:]):
        assert b["start"] >= a["end"] + 0.29  # never overlapping
    loud = [np.abs(audio[int(t["start"] * RATE):int(t["end"] * RATE)]).mean() for t in truth]
    quiet = np.abs(audio).mean()
    assert min(loud) > quiet  # the keyword is really there
    # the truth spans the word, not its 1 s clip with the noise floor around it
    assert all(abs(t["end"] - t["start"] - 0.4) <= 0.011 for t in truth)


def test_match_events_within_one_hop():
    truth = [{"label": "yes", "start": 10.0, "end": 10.5}, {"label": "no", "start": 20.0, "end": 20.4}]
    events = [{"label": "yes", "start": 9.6, "end": 11.1, "score": 0.9},     # centre 10.35: 0.1 off
              {"label": "no", "start": 21.0, "end": 22.0, "score": 0.8},     # 1.3 s off: a false alarm
              {"label": "other", "start": 0.0, "end": 5.0, "score": 0.9},    # never an alarm
              {"label": "up", "start": 30.0, "end": 31.0, "score": 0.7}]     # a false alarm
    hits, errors, alarms = match_events(truth, events, hop=0.25)
    assert hits == [True, False] and np.allclose(errors, [0.1]) and alarms == 2


def test_right_at_keyword_uses_the_nearest_window():
    truth = [{"label": "yes", "start": 1.0, "end": 1.5}]
    windows = [{"start": 0.0, "end": 1.0, "scores": {"yes": 0.9, "no": 0.1}},
               {"start": 0.75, "end": 1.75, "scores": {"yes": 0.2, "no": 0.8}}]
    assert right_at_keyword(truth, windows) == 0
    windows[1]["scores"] = {"yes": 0.6, "no": 0.4}
    assert right_at_keyword(truth, windows) == 1


def test_event_settings_are_chosen_by_found_minus_false_alarms():
    truth = [{"label": "yes", "start": 2.0, "end": 2.5}]
    scores = [0.0] * 20
    scores[6:9] = [0.9, 0.95, 0.9]  # windows 1.5-3.0 around the keyword (centre 2.25)
    scores[15] = 0.95               # a lone window far away: a false alarm at any threshold unless smoothed
    windows = [{"start": i * 0.25, "end": i * 0.25 + 1.0, "scores": {"yes": p, "other": 1 - p}}
               for i, p in enumerate(scores)]
    plain = score_settings([(windows, truth)], 0.5, 1, hop=0.25)
    assert plain["found"] == 1 and plain["false_alarms"] == 1 and plain["top1_at_keyword"] == 1
    assert chosen_on_validation([(windows, truth)], hop=0.25) == (0.5, 3, None)  # least smoothing that drops it
    scores[5:10] = [0.9, 0.9, 0.4, 0.9, 0.9]  # the middle window dips: two events 0.375 s off, unless low
    windows = [{"start": i * 0.25, "end": i * 0.25 + 1.0, "scores": {"yes": p, "other": 1 - p}}
               for i, p in enumerate(scores)]
    assert score_settings([(windows, truth)], 0.5, 1, hop=0.25)["found"] == 0
    assert score_settings([(windows, truth)], 0.5, 1, hop=0.25, low=0.3)["found"] == 1


def test_a_run_trained_with_other_settings_is_not_reused(tmp_path):
    """The record's settings and the checkpoint's own architecture (older records lack it) against the asked ones."""
    run = tmp_path / "run_aum_tiny"
    model = create_model("aum_tiny", depth=1, mel_bins=32, input_frames=48, num_classes=3, patch_stride=16)
    save_pretrained(model, run / "best", meta={"labels": ["a", "b", "c"]})
    (run / "bench_training.json").write_text(json.dumps({"model": "aum_tiny", "epochs": 8, "noise": 0.8}))
    asked = {"epochs": 8, "depth": 1, "noise": 0.8, "mel_bins": 32, "patch_stride": 16, "frames": 48, "shift": 0.0,
             "freqm": 0, "timem": 0}
    loaded, info = trained_model("aum_tiny", tmp_path, tmp_path / "data", asked)  # reused, nothing trained
    assert info["patch_stride"] == 16 and loaded.config.depth == 1
    with pytest.raises(ConfigError, match=r"trained with epochs=8, patch_stride=16; this run asks epochs=2, "
                                          r"patch_stride=10: pass another --work"):
        trained_model("aum_tiny", tmp_path, tmp_path / "data", {**asked, "epochs": 2, "patch_stride": 10})


def test_keywords_known_alone_are_those_the_model_labels_right_as_clips(tmp_path):
    model = create_model("aum_tiny", depth=1, embed_dim=32, mel_bins=32, input_frames=48, num_classes=3).eval()
    model.meta = {"labels": ["a", "b", "c"],
                  "frontend": Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32).to_dict()}
    clip = tmp_path / "kw.wav"
    soundfile.write(clip, 0.1 * np.random.default_rng(0).standard_normal(RATE // 2), RATE)
    top = model.predict(soundfile.read(clip, dtype="float32")[0], RATE, top_k=1)[0][0]
    wrong = next(label for label in "abc" if label != top)
    truth = [{"label": top, "start": 1.0, "end": 1.5, "clip": str(clip)},
             {"label": wrong, "start": 5.0, "end": 5.5, "clip": str(clip)}]
    marked = known_alone(model, truth)
    assert [t["known_alone"] for t in marked] == [True, False] and "known_alone" not in truth[0]
    windows = [{"start": i * 0.25, "end": i * 0.25 + 1.0, "scores": {top: 0.9 if 2 <= i <= 4 else 0.0}}
               for i in range(30)]  # an event at the first keyword only
    row = score_settings([(windows, marked)], 0.5, 1, hop=0.25)
    assert (row["found"], row["known_alone"], row["found_of_known"]) == (1, 1, 1)
