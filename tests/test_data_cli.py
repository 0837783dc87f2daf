"""`aum data stats` and `aum data speech-commands-synth` through the CLI entry point."""

from __future__ import annotations

import json
import shutil

import pytest

from aum.cli import main
from test_data_helpers import write_tone


def test_stats_on_folder_manifest_and_config(tmp_path, capsys):
    for i in range(3):
        write_tone(tmp_path / "yes" / f"s{i}_nohash_0.wav", 300.0 + 100 * i)
    write_tone(tmp_path / "_background_noise_" / "n.wav", 50.0)
    assert main(["data", "stats", str(tmp_path), "--frames", "64", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"] == 3 and result["bad"] == 0 and result["std"] > 0
    (tmp_path / "m.json").write_text(json.dumps({"data": [{"wav": "yes/s0_nohash_0.wav", "labels": "x"},
                                                          {"wav": "nope.wav", "labels": "x"}]}))
    assert main(["data", "stats", str(tmp_path / "m.json"), "--frames", "64"]) == 0
    assert "(1 clips, 1 bad, 64 frames)" in capsys.readouterr().out
    (tmp_path / "cfg.yaml").write_text("data:\n  format: speechcommands\n  root: .\n")
    assert main(["data", "stats", str(tmp_path / "cfg.yaml"), "--frames", "64", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean"] == pytest.approx(result["mean"])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_synth_command(tmp_path, capsys):
    out = tmp_path / "kw"
    args = ["data", "speech-commands-synth", str(out), "--word-list", "cat", "dog", "--voices", "3", "--per-voice",
            "1", "--jobs", "1"]
    assert main(args) == 0
    assert "wrote 6 clips (2 words; voices train/val/test 1/1/1)" in capsys.readouterr().out
    assert main(args) == 1 and "not empty" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
