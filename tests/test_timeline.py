"""Timeline of a long recording: streamed window scores equal the in-memory windows, events merge adjacent windows,
whole-sequence mode reads windows from one encoding, a file that goes bad part-way keeps what came before, and the
CLI prints the JSON schema / CSV / table and writes PNGs for a folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
import torch

from aum.audio import Frontend, windows
from aum.audio.arrays import to_mono
from aum.cli import main
from aum.errors import ConfigError
from aum.inference.timeline import TimelineSettings, merge_events, smoothed_scores, timeline_file, timeline_files
from aum.models import create_model, save_pretrained

SR = 16000
LABELS = ["a", "b", "c"]


def _model(name="aum_tiny", **kw):
    torch.manual_seed(0)
    m = create_model(name, depth=1, embed_dim=32, num_classes=3, input_frames=48, mel_bins=32, **kw).eval()
    m.meta = {"labels": LABELS, "task": {"name": "classification", "loss": "bce", "multilabel": False},
              "frontend": Frontend.preset("speechcommands", target_frames=48, num_mel_bins=32).to_dict()}
    return m


@pytest.fixture(scope="module")
def model():
    return _model(pool="mean")


def _wave(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_streamed_windows_equal_in_memory_windows(model, tmp_path):
    wav = _wave(3.3)
    path = tmp_path / "a.wav"
    soundfile.write(path, wav, SR, subtype="FLOAT")
    settings = TimelineSettings(hop=0.13, batch_size=3, block_seconds=0.7)
    result = timeline_file(model, path, settings)
    fb = Frontend.from_dict(model.meta["frontend"]).whole(to_mono(wav), SR)
    expected = torch.sigmoid(model(windows(fb, 48, 13))).detach().numpy()
    got = np.array([[w["scores"][label] for label in LABELS] for w in result["windows"]])
    np.testing.assert_allclose(got, expected, atol=2e-4)
    assert result["windows"][0]["start"] == 0.0 and result["windows"][1]["start"] == pytest.approx(0.13)
    assert result["windows"][-1]["end"] == pytest.approx(3.3, abs=0.02)
    assert result["duration"] == pytest.approx(3.3) and "error" not in result


def test_merge_events_joins_adjacent_windows():
    rows = [{"start": i * 0.5, "end": i * 0.5 + 1.0, "scores": {"a": p, "b": q}}
            for i, (p, q) in enumerate([(0.9, 0.1), (0.8, 0.6), (0.2, 0.7), (0.95, 0.1)])]
    assert merge_events(rows, 0.5) == [
        {"label": "a", "start": 0.0, "end": 1.5, "score": 0.9},
        {"label": "b", "start": 0.5, "end": 2.0, "score": 0.7},
        {"label": "a", "start": 1.5, "end": 2.5, "score": 0.95},
    ]
    assert merge_events([], 0.5) == []


def test_low_threshold_keeps_a_run_whole_across_a_dip():
    """Double thresholding: a run lasts while the score stays >= low and needs one window >= threshold."""
    rows = [{"start": i * 0.25, "end": i * 0.25 + 1.0, "scores": {"a": p}}
            for i, p in enumerate([0.1, 0.7, 0.45, 0.6, 0.2, 0.4, 0.35, 0.1, 0.3, 0.8])]
    assert [(e["start"], e["end"]) for e in merge_events(rows, 0.5)] == [(0.25, 1.25), (0.75, 1.75), (2.25, 3.25)]
    events = merge_events(rows, 0.5, low=0.3)
    assert [(e["start"], e["end"], e["score"]) for e in events] == [(0.25, 1.75, 0.7), (2.0, 3.25, 0.8)]
    assert merge_events(rows, 0.5, low=0.5) == merge_events(rows, 0.5)  # low = threshold: single threshold
    assert merge_events(rows, 0.9, low=0.3) == []  # runs above low that never reach the threshold make nothing
    assert [e["end"] for e in merge_events(rows, 0.5, low=0.0)] == [3.25]  # low 0: one run over everything
    for bad in (0.6, -0.1):
        with pytest.raises(ConfigError, match="--low-threshold must be in"):
            merge_events(rows, 0.5, low=bad)
        with pytest.raises(ConfigError, match="--low-threshold must be in"):
            TimelineSettings(threshold=0.5, low_threshold=bad)


def test_smoothing_averages_neighbour_windows_and_drops_lone_spikes():
    rng = np.random.default_rng(5)
    table = rng.random((7, 3))
    rows = [{"start": i * 0.25, "end": i * 0.25 + 1.0, "scores": dict(zip("abc", r))} for i, r in enumerate(table)]
    for span in (1, 3, 5):
        got = np.array([[s[k] for k in "abc"] for s in smoothed_scores(rows, span)])
        before = (span - 1) // 2
        ref = [table[max(0, i - before):i - before + span].mean(axis=0) for i in range(7)]  # plain twin
        np.testing.assert_allclose(got, ref, atol=1e-12)
    spike = [{"start": i * 0.25, "end": i * 0.25 + 1.0, "scores": {"a": p}}
             for i, p in enumerate([0.05, 0.9, 0.1, 0.1, 0.8, 0.9, 0.8, 0.1])]
    assert [e["start"] for e in merge_events(spike, 0.5)] == [0.25, 1.0]
    events = merge_events(spike, 0.5, smooth=3)
    assert [(e["start"], e["end"]) for e in events] == [(1.0, 2.5)]
    assert events[0]["score"] == pytest.approx((0.8 + 0.9 + 0.8) / 3)
    for bad in (0, 2):
        with pytest.raises(ConfigError, match="--smooth must be an odd"):
            TimelineSettings(smooth=bad)
    with pytest.raises(ValueError, match="odd"):
        smoothed_scores(rows, 2)


def test_whole_mode_reads_windows_from_one_encoding(model, tmp_path):
    wav = _wave(2.0, seed=1)
    path = tmp_path / "w.wav"
    soundfile.write(path, wav, SR, subtype="FLOAT")
    result = timeline_file(model, path, TimelineSettings(window=2.0, whole=True))
    assert len(result["windows"]) == 1  # one window spanning the file: the model's own clip output
    fb = Frontend.from_dict(model.meta["frontend"]).whole(to_mono(wav), SR)[None]
    expected = torch.sigmoid(model(fb)).detach().numpy()[0]
    got = np.array([result["windows"][0]["scores"][label] for label in LABELS])
    np.testing.assert_allclose(got, expected, atol=2e-4)
    several = timeline_file(model, path, TimelineSettings(window=0.5, hop=0.25, whole=True))
    assert [w["start"] for w in several["windows"]][:3] == [0.0, 0.25, 0.5]


def test_whole_mode_with_a_rectangular_stride(tmp_path):
    path = tmp_path / "w.wav"
    soundfile.write(path, _wave(1.5, seed=2), SR, subtype="FLOAT")
    model = _model(pool="mean", patch_stride=(16, 10))
    result = timeline_file(model, path, TimelineSettings(window=0.5, hop=0.25, whole=True))
    assert len(result["windows"]) == 5 and result["windows"][-1]["end"] == pytest.approx(1.5, abs=0.02)


def test_whole_mode_refuses_attention_models(tmp_path):
    path = tmp_path / "w.wav"
    soundfile.write(path, _wave(1.0), SR)
    with pytest.raises(ValueError, match="--whole --timeline needs a mean-pooled Mamba model"):
        timeline_file(_model("ast_tiny", num_heads=2), path, TimelineSettings(whole=True))


def test_truncated_file_keeps_the_part_before(model, tmp_path):
    path = tmp_path / "cut.flac"
    soundfile.write(path, _wave(8.0), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = timeline_file(model, path, TimelineSettings(block_seconds=0.5))
    assert result["windows"] and result["windows"][-1]["end"] <= 4.5
    assert result["error"].startswith(f"{path}: unreadable at ") and " s " in result["error"]
    whole = timeline_file(model, path, TimelineSettings(block_seconds=0.5, whole=True))
    assert whole["windows"] and whole["error"] == result["error"]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"junk" * 100)
    out = timeline_files(model, [path, bad], progress=False)
    assert len(out["timelines"]) == 1 and out["bad_files"][0]["file"] == str(bad)


def test_cli_timeline_json_csv_plot_for_a_folder(model, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    save_pretrained(model, ckpt, meta=model.meta)
    folder = tmp_path / "audio"
    folder.mkdir()
    for i in range(2):
        soundfile.write(folder / f"f{i}.wav", _wave(2.5, seed=i), SR)
    base = ["predict", str(folder), "--checkpoint", str(ckpt), "--timeline", "--window", "0.48", "--hop", "0.24",
            "--threshold", "0.3"]
    assert main([*base, "--json", "--plot", str(tmp_path / "t.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    tl = result["timelines"][0]
    assert set(tl) == {"file", "duration", "windows", "events"}
    assert set(tl["windows"][0]) == {"start", "end", "scores"} and set(tl["windows"][0]["scores"]) == set(LABELS)
    assert all(set(e) == {"label", "start", "end", "score"} for e in tl["events"])
    assert (tmp_path / "t.f0.png").stat().st_size > 1000 and (tmp_path / "t.f1.png").is_file()
    assert main([*base, "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "file,start,end,a,b,c" and len(lines) == 1 + sum(len(t["windows"]) for t in result["timelines"])
    assert main(base) == 0
    assert "events" in capsys.readouterr().out
    assert main([*base, "--low-threshold", "0.1", "--json"]) == 0
    low = json.loads(capsys.readouterr().out)["timelines"][0]
    assert low["events"] == merge_events(low["windows"], 0.3, low=0.1)
    assert main([*base[:-2], "--threshold", "2"]) == 1  # bad option: one-line error
    assert main([*base, "--low-threshold", "0.4"]) == 1  # above --threshold
    assert main(["predict", str(folder), "--checkpoint", str(ckpt), "--csv"]) == 1
    assert "--csv only applies with --timeline" in capsys.readouterr().err
