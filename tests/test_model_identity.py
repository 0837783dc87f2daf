"""Model identity and metadata survive every way of building and loading a model."""

import pytest
import torch

import aum
from aum.models import create_model, to_official_state_dict
from aum.models.model_folder import from_pretrained, save_pretrained
from aum.models.registry import get_config
from aum.train.config import Config, ConfigError, load_config


def test_model_built_from_its_config_class_round_trips(tmp_path):
    """A model built from the family's config class (no registry name) saves and loads again."""
    config = get_config("aum_tiny", depth=2, num_classes=3, input_frames=128)
    model = type(create_model("aum_tiny", depth=1, num_classes=3, input_frames=128))(config).eval()
    save_pretrained(model, tmp_path / "m")
    again = from_pretrained(tmp_path / "m").eval()
    x = torch.randn(1, 128, 128)
    assert torch.equal(model(x), again(x))


def test_official_pth_gets_a_frontend_so_predict_works(tmp_path):
    model = create_model("aum_tiny", depth=1, num_classes=4, input_frames=128)
    torch.save(to_official_state_dict(model), tmp_path / "official.pth")
    loaded = create_model("aum_tiny", pretrained=tmp_path / "official.pth", depth=1, num_classes=4,
                          input_frames=128)
    assert loaded.meta["frontend"]["target_frames"] == 128
    scores = loaded.predict(torch.randn(16000) * 0.1, 16000, top_k=2)
    assert len(scores) == 2


def test_create_model_from_our_folder_keeps_its_meta(tmp_path):
    model = create_model("aum_tiny", depth=1, num_classes=2, input_frames=128)
    from aum.audio import Frontend

    frontend = Frontend.preset("speechcommands", target_frames=128).to_dict()
    save_pretrained(model, tmp_path / "m", meta={"labels": ["a", "b"], "frontend": frontend})
    loaded = create_model("aum_tiny", pretrained=tmp_path / "m", depth=1, num_classes=2, input_frames=128)
    assert loaded.meta["labels"] == ["a", "b"]


def test_default_model_name_is_registered():
    assert Config().model.name in aum.list_models()


@pytest.mark.parametrize("override, hint", [("train.epoch=3", "did you mean 'epochs'"),
                                            ("optim.weight_decy=0", "did you mean 'weight_decay'")])
def test_unknown_key_names_the_closest_match(override, hint):
    with pytest.raises(ConfigError, match=hint):
        load_config(None, [override])


def test_unknown_model_field_names_the_closest_match():
    with pytest.raises(ValueError, match="did you mean 'drop_path'"):
        get_config("aum_tiny", drop_pth=0.1)


def test_aum_pretrain_accepts_a_recipe_without_a_task_section(tmp_path, monkeypatch):
    """`aum pretrain` fills in task.name=pretrain when the YAML has no `task:` section."""
    from aum.cli import pretrain as pretrain_cli

    seen = {}
    monkeypatch.setattr("aum.cli.train.launch", lambda args, cfg: seen.setdefault("cfg", cfg) and (tmp_path, {}, False))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {name: ssamba_tiny}\n")

    class Args:
        config, overrides, command = recipe, [], "pretrain"

    assert pretrain_cli.run(Args()) == 0
    assert seen["cfg"].task.name == "pretrain"


def test_aum_pretrain_refuses_a_recipe_for_another_task(tmp_path):
    from aum.cli import pretrain as pretrain_cli

    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {name: ssamba_tiny}\ntask: {name: classification}\n")

    class Args:
        config, overrides, command = recipe, [], "pretrain"

    with pytest.raises(ConfigError, match=r"task.name is 'classification'; `aum pretrain` runs task.name=pretrain"):
        pretrain_cli.run(Args())


@pytest.mark.parametrize("override, message", [
    ("model.drop_pth=0.1", r"model: unknown key\(s\) \['drop_pth'\] \(did you mean 'drop_path'\?\)"),
    ("model.name=aum-tiny", r"model.name: unknown model 'aum-tiny' \(did you mean 'aum_tiny'\?\)"),
    ("data.formt=esc50", r"data: unknown key\(s\) \['formt'\] \(did you mean 'format'\?\)"),
    ("data.format=esc5", r"data.format='esc5': choose one of .*\(did you mean 'esc50'\?\)"),
    ("task.los=ce", r"task: unknown key\(s\) \['los'\] \(did you mean 'loss'\?\)"),
    ("task.name=pretrian", r"task.name='pretrian': unknown task"),
    ("augment.mixpu=0.5", r"augment: unknown key\(s\) \['mixpu'\]"),
])
def test_typos_in_component_sections_fail_when_the_recipe_is_loaded(override, message):
    overrides = {"data.formt": ["data.format=esc50", "data.root=x"], "model.drop": ["model.name=aum_tiny"]}
    overrides = next((v for k, v in overrides.items() if override.startswith(k)), [])
    with pytest.raises(ConfigError, match=message):
        load_config(None, [*overrides, override])


def test_pretraining_recipe_typo_fails_before_data_is_indexed():
    from pathlib import Path

    recipe = Path(__file__).resolve().parents[1] / "configs" / "pretrain_ssamba_tiny_demo.yaml"
    with pytest.raises(ConfigError, match=r"task: unknown key\(s\) \['mask_sise'\] \(did you mean 'mask_size'"):
        load_config(recipe, ["task.mask_sise=10"])


def test_inference_features_are_the_frontend_s_own_on_long_clips():
    """Prediction's whole-clip features (`AudioModel.clip_inputs`) come from the Frontend itself: on a clip longer
    than the training length they extend, and never differ from, what the Frontend gives the model in training."""
    from aum.audio import Frontend

    frontend = Frontend.preset("speechcommands", target_frames=100)
    model = create_model("aum_tiny", depth=1, embed_dim=32, num_classes=2, input_frames=100)
    model.meta = {"frontend": frontend.to_dict()}
    wave = torch.randn(32000) * 0.1  # 2 s: 198 frames
    whole = model.clip_inputs(wave, 16000, whole=True)[0]
    assert whole.shape == (198, 128)
    assert torch.equal(whole[:100], frontend(wave))
    assert torch.equal(model.clip_inputs(wave, 16000)[0], frontend(wave))  # the first window
    short = model.clip_inputs(wave[:8000], 16000, whole=True)[0]
    assert torch.equal(short, frontend(wave[:8000]))


@pytest.mark.parametrize("override, message", [("model.depth=two", r"model.depth: expected int, got 'two'"),
                                               ("model.drop_path=[1, 2]", r"model.drop_path: expected float")])
def test_wrong_model_field_types_fail_when_the_recipe_is_loaded(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["model.name=aum_tiny", override])
