"""`aum demo ssl` end to end at a tiny size (seconds): corpus, keyword set, pretraining, fine-tuning, probes,
table and the closing gain line; and its argument checks."""

import csv
import re
import shutil

import pytest

from aum.cli import main
from aum.data.synth_corpus import corpus_voices, held_out_voices, synthesize_unlabeled
from aum.experiments.ssl import SSLRecipe
from aum.experiments.ssl_demo import recipe_overrides

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
TINY = ["pretrain_epochs=1", "finetune_epochs=1", "pretrain_batch=4", "finetune_batch=4", "frames=48",
        "mel_bins=32", "mask_size=3", "train.max_steps=2"]


@needs_espeak
def test_demo_ssl_end_to_end_tiny(tmp_path, capsys):
    out = tmp_path / "ssl"
    code = main(["demo", "ssl", "--out", str(out), "--words", "3", "--voices", "6", "--corpus-voices", "4",
                 "--corpus-clips", "4", "--seeds", "2", "--sets", "2", "--encoders", "ssamba,ssast,aum", *TINY])
    assert code == 0
    text = capsys.readouterr().out
    assert "depth 2 of 24 (reduced for a CPU demo)" in text
    last = text.strip().splitlines()[-2:]
    for line, task in zip(last, ("keywords", "speakers")):
        assert re.search(rf"^ssl gain \({task}\): fine-tune [+-]\d+\.\d points, linear probe [+-]\d+\.\d points "
                         r"\(ssamba, 2 sets x 2 seeds\)$", line), line
    for encoder in ("ssamba", "ssast", "aum"):
        assert re.search(rf"^[12] +{encoder} +\d+\.\d ± \d+\.\d", text, re.MULTILINE), encoder
        assert re.search(rf"^mean +{encoder} +[+-]\d+\.\d", text, re.MULTILINE), encoder
    with open(out / "ssl_results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 3 * 2 * 2  # sets x tasks x encoders x seeds x (pretrained, scratch)
    words = [(out / f"set{k}" / "keywords" / "keyword_set.json").read_text() for k in (1, 2)]
    assert words[0] != words[1] and not (out / "set1" / "keywords" / "yes").exists()  # drawn, not the default
    with open(out / "pretrain_curves.csv") as f:
        curves = list(csv.DictReader(f))
    assert {r["encoder"] for r in curves} == {"ssamba", "ssast", "aum"} and all(r["val_masked_acc"] for r in curves)
    assert (out / "pretrain_curves.png").stat().st_size > 0
    # no held-out voice of either keyword set is in the generated corpus
    with open(out / "unlabeled" / "corpus.csv") as f:
        pairs = {(r["language"], r["variant"]) for r in csv.DictReader(f)}
    assert not pairs & (held_out_voices(out / "set1" / "keywords") | held_out_voices(out / "set2" / "keywords"))
    # a re-run reuses the data and redoes the runs (here one encoder, one seed, one set, one task)
    assert main(["demo", "ssl", "--out", str(out), "--encoders", "ssast", "--seeds", "1", "--tasks", "keywords",
                 "--words", "3", "--voices", "6", *TINY]) == 0
    text = capsys.readouterr().out
    assert "(ssast, 1 sets x 1 seeds)" in text and "reusing the keyword set" in text
    assert not (out / "set1" / "runs" / "keywords" / "finetune_ssamba_scratch_seed0").exists()


@needs_espeak
def test_unlabeled_corpus_layout(tmp_path):
    info = synthesize_unlabeled(tmp_path / "c", num_voices=2, clips_per_voice=3, seed=5, jobs=1)
    assert info["clips"] == 6 and len(list((tmp_path / "c").glob("*/*.wav"))) == 6
    with pytest.raises(ValueError, match="not empty"):
        synthesize_unlabeled(tmp_path / "c", num_voices=2, clips_per_voice=3)


def test_corpus_voices_exclude_and_refuse_too_many():
    voices = corpus_voices(3, 0, ["en", "en-us"], ["a", "b"], exclude={("en", "a")})
    assert len({(v.language, v.variant) for v in voices}) == 3 and ("en", "a") not in {
        (v.language, v.variant) for v in voices}
    with pytest.raises(ValueError, match="1 to 3 available"):
        corpus_voices(4, 0, ["en", "en-us"], ["a", "b"], exclude={("en", "a")})


def test_recipe_overrides_and_option_checks(capsys):
    recipe = SSLRecipe()
    recipe_overrides(recipe, ["depth=4", "optim.grad_clip=1.0"])
    assert recipe.depth == 4 and recipe.extra == {"optim.grad_clip": "1.0"}
    with pytest.raises(ValueError, match="not a recipe field"):
        recipe_overrides(recipe, ["depht=4"])
    with pytest.raises(SystemExit):  # an option of `aum demo ssl` is not one of the keyword demo
        main(["demo", "--encoders", "ssast"])
    assert "unrecognized arguments: --encoders" in capsys.readouterr().err


def test_demo_sub_commands_have_their_own_help(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    assert "keywords" in text and "ssl" in text and "--encoders" not in text
    with pytest.raises(SystemExit):
        main(["demo", "ssl", "--help"])
    text = capsys.readouterr().out
    assert "--encoders" in text and "--label-fraction" in text and "--corpus-voices" in text
    with pytest.raises(SystemExit):
        main(["--threads", "1", "demo", "keywords", "--help"])
    text = capsys.readouterr().out
    assert "--words" in text and "--encoders" not in text


def test_ssamba_layers_unpaired_in_both_stages(tmp_path):
    from aum.experiments.ssl import finetune_recipe, pretrain_recipe

    recipe = SSLRecipe()
    for encoder, expected in (("ssamba", False), ("ssast", None), ("aum", None)):
        stages = (pretrain_recipe(recipe, encoder, tmp_path, tmp_path),
                  finetune_recipe(recipe, encoder, tmp_path, tmp_path, 0, None))
        assert all(stage["model"].get("paired_layers") is expected for stage in stages), encoder


def test_fine_tuning_options_apply_to_the_pretrained_encoder_only(tmp_path):
    from aum.experiments.ssl import finetune_recipe

    recipe = SSLRecipe(finetune_freeze_epochs=5, finetune_layer_decay=0.5, finetune_patience=3)
    pretrained = finetune_recipe(recipe, "ssamba", tmp_path, tmp_path, 0, tmp_path / "pretrain" / "best", "speakers")
    scratch = finetune_recipe(recipe, "ssamba", tmp_path, tmp_path, 0, None, "speakers")
    assert (pretrained["train"]["freeze_encoder_epochs"], pretrained["optim"]["layer_decay"]) == (5, 0.5)
    assert (scratch["train"]["freeze_encoder_epochs"], scratch["optim"]["layer_decay"]) == (0, 1.0)
    assert pretrained["train"]["epochs"] == scratch["train"]["epochs"] and scratch["data"]["format"] == "folder"
