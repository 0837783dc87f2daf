"""WebDataset tar shards: brace expansion, member index, items through ClipDataset, bad members counted."""

from __future__ import annotations

import io
import json
import logging
import tarfile

import pytest
import torch

from aum.audio import AudioError, Frontend, load_audio
from aum.data import DataFormatError, build_dataset, parse_data_config, read_examples
from aum.data.webdataset import expand_braces, load_clip, parse_reference, shard_paths
from test_data_helpers import write_label_csv, write_tone

FRONTEND = Frontend(target_frames=48, num_mel_bins=32)


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shard(path, samples, tmp_path):
    """samples: (key, audio suffix or None, audio bytes or None (a tone), json dict or None)."""
    with tarfile.open(path, "w") as tar:
        for i, (key, suffix, audio, meta) in enumerate(samples):
            if suffix is not None:
                if audio is None:
                    audio = write_tone(tmp_path / "src" / f"{path.stem}-{key}.{suffix}", 200.0 * (i + 1),
                                       seconds=0.4, sample_rate=22050).read_bytes()
                add_member(tar, f"{key}.{suffix}", audio)
            if meta is not None:
                add_member(tar, f"{key}.json", json.dumps(meta).encode())
    return path


@pytest.fixture
def shards(tmp_path):
    root = tmp_path / "data"
    (root / "shards").mkdir(parents=True)
    write_label_csv(root / "labels.csv", ["/m/a", "/m/b", "/m/c"])
    write_shard(root / "shards" / "train-000.tar", [
        ("s0", "flac", None, {"labels": "/m/a,/m/c"}),
        ("s1", "wav", None, {"labels": ["/m/b"]}),
    ], tmp_path)
    write_shard(root / "shards" / "train-001.tar", [
        ("s2", "wav", None, {"label": 2}),
        ("s3", "flac", b"fLaC but then garbage" * 4, {"label": "name 0"}),  # display name; corrupt audio
        ("sub/s4", "wav", None, {"labels": "/m/a"}),
    ], tmp_path)
    return root


def config(root, **extra):
    return parse_data_config({"format": "webdataset", "root": str(root), "train": "shards/train-{000..001}.tar",
                              "label_csv": "labels.csv", **extra})


def test_expand_braces():
    assert expand_braces("a-{000..002}.tar") == ["a-000.tar", "a-001.tar", "a-002.tar"]
    assert expand_braces("{a,b}-{1..2}") == ["a-1", "a-2", "b-1", "b-2"]
    assert expand_braces("plain.tar") == ["plain.tar"]
    assert expand_braces("x{8..10}") == ["x8", "x9", "x10"]
    with pytest.raises(ValueError, match="brace"):
        expand_braces("x{abc}")


def test_shard_paths_glob_list_and_missing(shards):
    by_glob = shard_paths("shards/train-*.tar", shards)
    assert [p.name for p in by_glob] == ["train-000.tar", "train-001.tar"]
    assert shard_paths(["shards/train-001.tar", "shards/train-000.tar"], shards)[0].name == "train-001.tar"
    with pytest.raises(FileNotFoundError, match="train-002.tar"):
        shard_paths("shards/train-{000..002}.tar", shards)


def test_read_index_and_targets(shards):
    examples, labels, multilabel = read_examples(config(shards), "train")
    assert labels == ["/m/a", "/m/b", "/m/c"] and multilabel
    assert [ex.target for ex in examples] == [[0, 2], [1], [2], [0], [0]]
    shard, member, offset, size = parse_reference(examples[4].path)
    assert shard.endswith("train-001.tar") and member == "sub/s4.wav"
    with tarfile.open(shard) as tar:
        m = tar.getmember(member)
        assert (m.offset_data, m.size) == (offset, size)
    wave = load_clip(examples[1].path, 16000)
    src = load_audio(shards.parent / "src" / "train-000-s1.wav", 16000)
    assert wave.shape == (6400,) and torch.allclose(wave, src)


def test_items_and_corrupt_member_counted(shards, caplog):
    ds = build_dataset(config(shards), "train", FRONTEND)
    assert len(ds) == 5 and ds.num_classes == 3
    with caplog.at_level(logging.WARNING, logger="aum.data.dataset"):
        items = [ds[i] for i in range(5)]
    assert items[3] is None and ds.bad_clips == 1
    assert items[0]["x"].shape == (48, 32) and items[0]["y"].tolist() == [1.0, 0.0, 1.0]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "train-001.tar#s3.flac: not a readable audio file" in line and "\n" not in line


def test_single_label_and_cache(shards, tmp_path):
    with pytest.raises(DataFormatError, match="2 labels"):
        read_examples(config(shards, multilabel=False), "train")
    write_shard(shards / "shards" / "val-000.tar", [("v0", "wav", None, {"label": "/m/b"})], tmp_path)
    cfg = config(shards, multilabel=False, val="shards/val-000.tar", cache_dir=str(tmp_path / "cache"))
    ds = build_dataset(cfg, "val", FRONTEND)
    assert not ds.multilabel and ds.labels == ["name 0", "name 1", "name 2"] and ds[0]["y"].tolist() == [0, 1, 0]
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1 and torch.equal(ds[0]["x"], ds[0]["x"])


def test_member_errors(shards, tmp_path):
    shard = write_shard(shards / "shards" / "bad-000.tar", [("x", "wav", None, None)], tmp_path)
    with pytest.raises(DataFormatError, match="has audio but no .json"):
        read_examples(config(shards, train=f"shards/{shard.name}"), "train")
    write_shard(shard, [("x", "wav", None, {"labels": "/m/zzz"})], tmp_path)
    with pytest.raises(DataFormatError, match="unknown label '/m/zzz'"):
        read_examples(config(shards, train=f"shards/{shard.name}"), "train")
    with pytest.raises(ValueError, match="label_csv"):
        parse_data_config({"format": "webdataset", "root": str(shards), "train": "shards/train-000.tar"})
    ref = read_examples(config(shards), "train")[0][0].path
    with pytest.raises(AudioError, match=r"train-000.tar#s0.flac: truncated shard"):
        load_clip(ref.replace(ref.rpartition(":")[2], "99999999"))
