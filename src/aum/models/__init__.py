"""Audio models: AuM, SSAMBA, AST, SSAST, a timm-style registry, our save format and official checkpoints."""

from aum.models import ast, aum, ssamba  # noqa: F401  (registers the models)
from aum.models.base import AudioModel, AudioModelConfig, top_labels
from aum.models.factory import ModelSection, create_model, parse_model_section
from aum.models.model_folder import from_pretrained, save_pretrained
from aum.models.official import LoadReport, load_checkpoint, to_official_state_dict
from aum.models.registry import get_config, list_models, register_model

__all__ = ["AudioModel", "AudioModelConfig", "LoadReport", "ModelSection", "create_model", "from_pretrained",
           "get_config", "list_models", "load_checkpoint", "parse_model_section", "register_model",
           "save_pretrained", "to_official_state_dict", "top_labels"]
