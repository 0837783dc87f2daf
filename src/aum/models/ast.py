"""AST and SSAST: DeiT-layout transformers over overlapping fbank patches (docs/REFERENCE.md §4).

CLS + distillation token in front, positions (1, N + 2, D), 12 pre-norm blocks (timm names), final `norm`, head
`mlp_head` = LayerNorm + Linear. AST pools the mean of the two special tokens; SSAST pools the mean of the patch
tokens (`ft_avgtok`, default) or of the special tokens (`ft_cls`) and carries the pretext parts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from aum.errors import ConfigError
from aum.models.base import AudioModel, AudioModelConfig
from aum.models.layers import Attention, ViTBlock, init_vit_weights, modules_of_type
from aum.models.registry import register_model
from aum.schema import setting


@dataclass
class ASTConfig(AudioModelConfig):
    family: ClassVar[str] = "ast"
    depth: int = 12
    num_heads: int = setting(12, "attention heads (embed_dim must be a multiple)", low=1)
    mlp_ratio: float = setting(4.0, "MLP width = mlp_ratio x embed_dim", low=0.0, open_low=True)
    norm_eps: float = setting(1e-6, "eps of the LayerNorms", low=0.0, open_low=True)
    patch_stride: int | tuple[int, int] = 10
    cls_position: str = "head"
    pool: str = "cls"
    dist_token: bool = setting(True, "a distillation token beside the CLS token (DeiT layout)")
    attention: str = setting("sdpa", "sdpa (PyTorch's fused attention) or naive (explicit softmax(QK^T / sqrt(d)) "
                             "V, the papers' baseline)", choices=("sdpa", "naive"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cls_position not in ("head", "none"):
            raise ConfigError(f"model.cls_position={self.cls_position!r}: the {self.family} special tokens sit at "
                              "the head, or there are none ('none')")
        if self.embed_dim % self.num_heads:
            raise ConfigError(f"model.embed_dim={self.embed_dim} is not divisible by num_heads {self.num_heads}")

    @property
    def num_prefix_tokens(self) -> int:
        return 0 if self.cls_position == "none" else 1 + int(self.dist_token)


@dataclass
class SSASTConfig(ASTConfig):
    family: ClassVar[str] = "ssast"
    pool: str = "mean"
    pretrain_heads: bool = True


class TransformerAudioModel(AudioModel):
    head_norm: ClassVar[bool] = True
    config: ASTConfig

    def __init__(self, config: ASTConfig):
        super().__init__(config)
        rates = [config.drop_path * i / max(config.depth - 1, 1) for i in range(config.depth)]
        self.blocks = nn.ModuleList(
            ViTBlock(config.embed_dim, config.num_heads, config.mlp_ratio, config.norm_eps, rates[i], config.attention)
            for i in range(config.depth))
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.norm_eps)
        self.blocks.apply(init_vit_weights)
        self._init_embeddings()

    def set_attention(self, mode: str) -> None:
        """Switch every block between "sdpa" and "naive" attention (and the config) in place."""
        self.config = dataclasses.replace(self.config, attention=mode)
        for attention in modules_of_type(self.blocks, Attention):
            attention.mode = mode

    def _run_blocks(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h)  # (B, L, D)
        return self.norm(h)


SIZES = {"tiny": (192, 3), "small": (384, 6), "base": (768, 12)}

for _size, (_dim, _heads) in SIZES.items():
    register_model(f"ast_{_size}", ASTConfig(embed_dim=_dim, num_heads=_heads), TransformerAudioModel)
    register_model(f"ssast_{_size}", SSASTConfig(embed_dim=_dim, num_heads=_heads), TransformerAudioModel)
