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


@dataclass
class ASTConfig(AudioModelConfig):
    family: ClassVar[str] = "ast"
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6
    patch_stride: int = 10
    cls_position: str = "head"
    pool: str = "cls"
    dist_token: bool = True
    attention: str = "sdpa"  # sdpa | naive (explicit softmax(QK^T / sqrt(d)) V, the papers' baseline)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cls_position not in ("head", "none"):
            raise ConfigError(f"{self.family}: special tokens sit at the head (or 'none'), got {self.cls_position!r}")
        if self.attention not in ("sdpa", "naive"):
            raise ConfigError(f"attention must be 'sdpa' or 'naive', got {self.attention!r}")
        if self.embed_dim % self.num_heads:
            raise ConfigError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")

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
