"""The long-audio benchmark's training set: keywords from training voices only, an `other` class of unrelated
words, cut keywords, babble and noise, training noises that are not the recordings' own, clean val/test lists."""

from __future__ import annotations

import numpy as np
import soundfile

from aum.data.readers import NOISE_FOLDER, SpeechCommandsData
from aum.experiments.longaudio_data import KEYWORDS, OTHER, OTHER_WORDS, RATE, UNSEEN_WORDS, word_span
from aum.experiments.longaudio_trainset import CUT_KEPT, build_training_set, cut_keyword, stream_crop

VOICES = {"t1": "train", "t2": "train", "t3": "train", "v1": "val", "s1": "test"}


def _burst(start: int, length: int, pitch: float) -> np.ndarray:
    clip = np.zeros(RATE, np.float32)
    clip[start:start + length] = 0.5 * np.sin(2 * np.pi * pitch * np.arange(length) / RATE)
    return clip


def _fake_raw(root):
    """Every word x voice as a tone burst of the word's own pitch; one val and one test voice."""
    (root / NOISE_FOLDER).mkdir(parents=True)
    soundfile.write(root / NOISE_FOLDER / "white.wav", 0.1 * np.random.default_rng(0).standard_normal(RATE * 3), RATE)
    lists = {"val": [], "test": []}
    for i, word in enumerate(KEYWORDS + OTHER_WORDS + UNSEEN_WORDS):
        (root / word).mkdir()
        for voice, split in VOICES.items():
            rel = f"{word}/{voice}_nohash_0.wav"
            soundfile.write(root / rel, _burst(3000, 6400, 200 + 40 * i), RATE)
            if split in lists:
                lists[split].append(rel)
    (root / "validation_list.txt").write_text("\n".join(lists["val"]) + "\n")
    (root / "testing_list.txt").write_text("\n".join(lists["test"]) + "\n")
    return root


def test_word_span_and_cut_keyword_keep_only_an_edge_of_the_word():
    clip = _burst(4000, 6400, 440.0)
    assert word_span(clip) == (4000, 10400)
    rng = np.random.default_rng(0)
    for _ in range(20):
        cut = cut_keyword(clip, rng)
        assert cut.shape == (RATE,)
        loud = np.flatnonzero(np.abs(cut) > 0.05)
        assert loud.size and (loud[0] < 50 or loud[-1] > RATE - 50)  # at the window's edge
        assert loud[-1] - loud[0] <= CUT_KEPT[1] * 6400 + 1


def test_word_span_and_stream_crop_keep_a_weak_final_consonant():
    """A loud vowel then a fricative 29 dB under it (as the /f/ of "off"), over a noise floor 51 dB under it."""
    rng = np.random.default_rng(1)
    render = (0.001 * rng.standard_normal(RATE)).astype(np.float32)
    render[4000:7200] += 0.5 * np.sin(2 * np.pi * 300 * np.arange(3200) / RATE)  # 0.2 s vowel
    render[7200:8800] += 0.0125 * rng.standard_normal(1600)  # 0.1 s fricative
    assert word_span(render) == (4000, 8800)
    lead = int(np.flatnonzero(np.abs(render) > 0.1)[0]) - 4000  # the vowel's first loud sample, in the word
    for seed in range(40):
        crop = stream_crop(render, np.random.default_rng(seed))
        at = int(np.flatnonzero(np.abs(crop) > 0.1)[0]) - lead  # where the word starts in the window
        assert np.array_equal(crop[at:at + 4800], render[4000:8800])  # vowel and fricative, whole


def test_stream_crop_keeps_the_whole_word_anywhere_in_the_window():
    render = _burst(4000, 6400, 440.0)
    starts = []
    for seed in range(40):
        crop = stream_crop(render, np.random.default_rng(seed))
        loud = np.flatnonzero(np.abs(crop) > 0.05)
        assert crop.shape == (RATE,) and loud[-1] - loud[0] + 1 >= 6400 - 2  # the whole burst, inside
        starts.append(loud[0])
    assert min(starts) < 1500 and max(starts) > RATE - 6400 - 1500  # shifted both ways, not only as rendered


def test_training_set_layout_splits_and_other_class(tmp_path):
    raw = _fake_raw(tmp_path / "raw")
    out = build_training_set(raw, tmp_path / "train", seed=0, other_share=3.0)
    train, labels = SpeechCommandsData(root=out).read("train")
    assert set(labels) == set(KEYWORDS) | {OTHER}
    names = [e.path for e in train]
    assert all("/v1_" not in p and "/s1_" not in p for p in names)  # training voices only
    assert not any(w in p for p in names for w in UNSEEN_WORDS)
    per_keyword = sum(labels[e.target[0]] == "yes" for e in train)
    assert per_keyword == 3
    others = [p for e, p in zip(train, names) if labels[e.target[0]] == OTHER]
    assert len(others) == 9 and all(any(f"/{kind}" in p for kind in ("word", "cut", "babble", "noise"))
                                    for p in others)
    test, _ = SpeechCommandsData(root=out).read("test")
    assert len(test) == len(KEYWORDS) + 2 and all("s1_" in e.path for e in test)
    assert len(SpeechCommandsData(root=out).read("val")[0]) == len(KEYWORDS) + 2
    noises = sorted((out / NOISE_FOLDER).glob("*.wav"))
    assert len(noises) >= 5 and not (out / NOISE_FOLDER / "white.wav").exists()  # not the recordings' noise
    assert build_training_set(raw, tmp_path / "train") == out  # reused
