"""Each reader on a small generated tree in its real layout, and build_dataset's dispatch."""

from __future__ import annotations

import json
import logging

import pytest

from aum.audio import Frontend
from aum.data import DataFormatError, build_dataset, esc50_cross_validation, noise_files, parse_data_config
from aum.data.readers import Esc50Data, FolderData, JsonData, SpeechCommandsData
from aum.data.readers_youtube import AudioSetData, VggSoundData, VoxCelebData
from test_data_helpers import write_label_csv, write_tone
from tiny_layouts import make_esc50, make_speechcommands


def test_json_manifest_multilabel_and_relative_paths(tmp_path):
    write_label_csv(tmp_path / "class_labels_indices.csv", ["/m/a", "/m/b", "/m/c"])
    write_tone(tmp_path / "clips" / "one.wav")
    manifest = {"data": [{"wav": "clips/one.wav", "labels": "/m/a,/m/c"}, {"wav": "/abs/two.wav", "labels": "/m/b"}]}
    (tmp_path / "train.json").write_text(json.dumps(manifest))
    examples, labels = JsonData(root=tmp_path, train="train.json").read("train")
    assert labels == ["/m/a", "/m/b", "/m/c"]
    assert examples[0].target == [0, 2] and examples[0].path == str(tmp_path / "clips" / "one.wav")
    assert examples[1].path == "/abs/two.wav" and examples[1].target == [1]


def test_json_unknown_label_names_manifest_and_label(tmp_path):
    write_label_csv(tmp_path / "class_labels_indices.csv", ["/m/a"])
    (tmp_path / "eval.json").write_text(json.dumps({"data": [{"wav": "x.wav", "labels": "/m/zzz"}]}))
    with pytest.raises(DataFormatError, match=r"eval\.json: unknown label '/m/zzz'"):
        JsonData(root=tmp_path, test="eval.json").read("test")


def test_esc50_folds(tmp_path):
    make_esc50(tmp_path)
    train, labels = Esc50Data(root=tmp_path, fold=3).read("train")
    val, _ = Esc50Data(root=tmp_path, fold=3).read("val")
    assert labels == ["dog", "rain"] and len(train) == 8 and len(val) == 2
    assert all("/3-" in ex.path for ex in val) and not any("/3-" in ex.path for ex in train)
    assert [c.fold for c in esc50_cross_validation(Esc50Data(root="x"))] == [1, 2, 3, 4, 5]


def test_speechcommands_splits_and_noise(tmp_path):
    root = make_speechcommands(tmp_path)
    splits = {s: SpeechCommandsData(root=root).read(s) for s in ("train", "val", "test")}
    assert splits["train"][1] == ["no", "yes"]  # _background_noise_ is not a class
    paths = {s: {ex.path for ex in exs} for s, (exs, _) in splits.items()}
    assert len(paths["train"]) == 2 and len(paths["val"]) == 2 and len(paths["test"]) == 2
    assert all("aa_" in p for p in paths["train"]) and not paths["train"] & (paths["val"] | paths["test"])
    assert noise_files(root) == [str(root / "_background_noise_" / "white_noise.wav")]


def test_voxceleb_iden_split(tmp_path):
    lines = ["1 id10002/vidA/00001.wav", "2 id10002/vidA/00002.wav", "3 id10001/vidB/00001.wav",
             "1 id10001/vidB/00002.wav"]
    (tmp_path / "iden_split.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "wav").mkdir()
    train, labels = VoxCelebData(root=tmp_path).read("train")
    test, _ = VoxCelebData(root=tmp_path).read("test")
    assert labels == ["id10001", "id10002"]
    assert [ex.target for ex in train] == [[1], [0]] and test[0].path == str(tmp_path / "wav/id10001/vidB/00001.wav")


def test_vggsound_naming_and_missing_counted(tmp_path, caplog):
    rows = ["---g-f_I2yQ,1,dog barking,train", "abcdefghijk,30,rain,train", "zzzzzzzzzzz,0,rain,test"]
    (tmp_path / "vggsound.csv").write_text("\n".join(rows) + "\n")
    write_tone(tmp_path / "clips" / "---g-f_I2yQ_000001.flac")
    write_tone(tmp_path / "clips" / "zzzzzzzzzzz_000000.wav")
    with caplog.at_level(logging.WARNING):
        train, labels = VggSoundData(root=tmp_path).read("train")
    assert labels == ["dog barking", "rain"] and [ex.target for ex in train] == [[0]]
    assert "1 of 2 clips not found" in caplog.text and "abcdefghijk_000030" in caplog.text
    val, _ = VggSoundData(root=tmp_path).read("val")  # no validation split: the test rows
    assert [ex.target for ex in val] == [[1]]


def test_audioset_segments_ytid_prefix_and_missing(tmp_path, caplog):
    write_label_csv(tmp_path / "class_labels_indices.csv", ["/m/09x0r", "/t/dd00088", "/m/04rlf"])
    csv_text = ("# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=3, num_segs=3, num_unique_labels=3\n"
                "# YTID, start_seconds, end_seconds, positive_labels\n"
                '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"\n'
                '--ZhevVpy1s, 50.000, 60.000, "/m/04rlf"\n'
                'Yxxxxxxxxxx, 0.000, 10.000, "/m/04rlf"\n')
    (tmp_path / "balanced_train_segments.csv").write_text(csv_text)
    write_tone(tmp_path / "audio" / "Y--PJHxphWEs_30.000_40.000.wav")
    write_tone(tmp_path / "audio" / "Yxxxxxxxxxx.flac")
    with caplog.at_level(logging.WARNING):
        examples, labels = AudioSetData(root=tmp_path, train="balanced_train_segments.csv",
                                         audio_dir="audio").read("train")
    assert len(labels) == 3 and [ex.target for ex in examples] == [[0, 1], [2]]
    assert "1 of 3 clips not found" in caplog.text and "--ZhevVpy1s" in caplog.text


def test_folder_split_folders_and_hash_split(tmp_path):
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            write_tone(tmp_path / "a" / split / cls / "x.wav")
    train, labels = FolderData(root=tmp_path / "a").read("train")
    assert labels == ["cat", "dog"] and len(train) == 2
    for i in range(40):
        write_tone(tmp_path / "b" / ("cat", "dog")[i % 2] / f"{i}.wav", seconds=0.05)
    parts = {s: FolderData(root=tmp_path / "b", val_fraction=0.25, test_fraction=0.25).read(s)[0] for s in
             ("train", "val", "test")}
    assert sum(len(p) for p in parts.values()) == 40 and all(parts.values())
    assert not {e.path for e in parts["train"]} & {e.path for e in parts["test"]}


def test_build_dataset_dispatch_and_config_errors(tmp_path):
    root = make_speechcommands(tmp_path)
    data = parse_data_config({"format": "speechcommands", "root": str(root)})
    ds = build_dataset(data, "validation", Frontend(target_frames=64))
    assert len(ds) == 2 and ds.num_classes == 2 and not ds.multilabel and ds.labels == ["no", "yes"]
    with pytest.raises(ValueError, match=r"data.format='nope': choose one of .*speechcommands"):
        parse_data_config({"format": "nope", "root": str(root)})
    with pytest.raises(ValueError, match=r"data: unknown key\(s\) \['fold'\].*known keys: .*'root'"):
        parse_data_config({"format": "speechcommands", "root": str(root), "fold": 2})
    with pytest.raises(ValueError, match=r"data.root is required"):
        parse_data_config({"format": "speechcommands"})
