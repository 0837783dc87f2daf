"""SSAMBA: the self-supervised audio Mamba encoder as the official code builds it (docs/REFERENCE.md §3).

Vim with bimamba "v2" inside, 24 layers acting as 12 flipped pairs, LayerNorm, one CLS token at index 0, drop
path 0.1, `norm_f` applied twice (official non-fused path), pretext parts (`mask_embed`, `cpredlayer`,
`gpredlayer`) always present, fine-tuning head `mlp_head` = LayerNorm + Linear over the mean of the patch tokens
(`ft_avgtok`, default) or the CLS output (`ft_cls`). Fine-tuning uses stride-10 overlapping patches by default;
pretraining needs `patch_stride=16`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aum.models.aum import SIZES, AuMConfig, MambaAudioModel
from aum.models.registry import register_model


@dataclass
class SSAMBAConfig(AuMConfig):
    family: ClassVar[str] = "ssamba"
    aum_type: str = "v2"
    patch_stride: int | tuple[int, int] = 10
    cls_position: str = "head"
    pool: str = "mean"
    drop_path: float = 0.1
    norm: str = "layer"
    residual_in_fp32: bool = False
    paired_layers: bool = True
    double_final_norm: bool = True
    pretrain_heads: bool = True


class SSAMBAModel(MambaAudioModel):
    head_norm: ClassVar[bool] = True


for _size, _dim in SIZES.items():
    register_model(f"ssamba_{_size}", SSAMBAConfig(embed_dim=_dim), SSAMBAModel)
