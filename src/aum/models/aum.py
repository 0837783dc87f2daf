"""Audio Mamba (AuM): Vim-style bidirectional Mamba encoder over 16x16 fbank patches (docs/REFERENCE.md §2).

`MambaAudioModel` is also the SSAMBA encoder (`ssamba.py` only changes the config and the head).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from aum.errors import ConfigError
from aum.models.base import AudioModel, AudioModelConfig
from aum.models.layers import DropPath, MambaBlock, modules_of_type
from aum.models.mamba import MIXER_TYPES, MambaMixer
from aum.models.registry import register_model
from aum.ops.dispatch import BACKENDS
from aum.schema import setting


@dataclass
class AuMConfig(AudioModelConfig):
    family: ClassVar[str] = "aum"
    aum_type: str = setting("v1", "mixer: v1 = Fo-Bi (the paper: one conv, two A), v2 = Bi-Bi (Vim bimamba v2), "
                            "none = forward only", choices=MIXER_TYPES)
    d_state: int = setting(16, "SSM state size N", low=1)
    d_conv: int = setting(4, "depthwise conv width", low=1)
    expand: int = setting(2, "inner width = expand x embed_dim", low=1)
    divide_out: bool = setting(True, "v2: average the two directions (Vim `if_devide_out`) instead of summing")
    norm: str = setting("rms", "block norm", choices=("rms", "layer"))
    norm_eps: float = setting(1e-5, "eps of the block norms", low=0.0, open_low=True)
    residual_in_fp32: bool = setting(True, "keep the residual stream in float32 under autocast")
    paired_layers: bool = setting(False, "SSAMBA: layer 2i reads the sequence, layer 2i+1 reads it flipped")
    double_final_norm: bool = setting(False, "SSAMBA's non-fused path applies norm_f twice")
    scan_backend: str = setting("auto", "selective scan: auto picks numba on CPU, triton on CUDA",
                                choices=("auto", *BACKENDS))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.paired_layers and self.depth % 2:
            raise ConfigError(f"model.paired_layers needs an even depth, got {self.depth}")


class MambaAudioModel(AudioModel):
    """Stack of Add -> Norm -> Mixer blocks (`layers.i`), final `norm_f`, official mamba_ssm init."""

    config: AuMConfig

    def __init__(self, config: AuMConfig):
        super().__init__(config)
        d, depth = config.embed_dim, config.depth
        rates = [0.0] + [config.drop_path * i / max(depth - 1, 1) for i in range(depth)]  # official `inter_dpr`
        self.layers = nn.ModuleList(
            MambaBlock(d, MambaMixer(d, config.d_state, config.d_conv, config.expand, config.aum_type,
                                     config.divide_out, config.scan_backend),
                       self._norm(d), drop_path=rates[i], residual_in_fp32=config.residual_in_fp32)
            for i in range(depth))
        self.norm_f = self._norm(d)
        self.drop_path = DropPath(config.drop_path) if config.drop_path > 0 else nn.Identity()
        self._init_weights()

    def _norm(self, dim: int) -> nn.RMSNorm | nn.LayerNorm:
        eps = self.config.norm_eps
        return nn.RMSNorm(dim, eps=eps) if self.config.norm == "rms" else nn.LayerNorm(dim, eps=eps)

    def _init_weights(self) -> None:
        """mamba_ssm `_init_weights`: Linear biases 0 (not dt_proj), out_proj kaiming-uniform / sqrt(depth)."""
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.bias is not None and not getattr(module.bias, "_no_reinit",
                                                                                         False):
                nn.init.zeros_(module.bias)
        for mixer in self.mixers():
            nn.init.kaiming_uniform_(mixer.out_proj.weight, a=math.sqrt(5))
            with torch.no_grad():
                mixer.out_proj.weight /= math.sqrt(self.config.depth)
        self._init_embeddings()

    def mixers(self) -> list[MambaMixer]:
        """The mixer of every layer, in layer order."""
        return modules_of_type(self.layers, MambaMixer)

    def set_scan_backend(self, backend: str) -> None:
        """Switch the selective-scan backend of every layer (and the config) in place."""
        self.config = dataclasses.replace(self.config, scan_backend=backend)
        for mixer in self.mixers():
            mixer.scan_backend = backend

    def _run_blocks(self, h: torch.Tensor) -> torch.Tensor:
        residual = None
        if self.config.paired_layers:
            for fwd, bwd in zip(self.layers[0::2], self.layers[1::2]):
                h_f, r_f = fwd(h, residual)
                h_b, r_b = bwd(h.flip(1), None if residual is None else residual.flip(1))
                h, residual = h_f + h_b.flip(1), r_f + r_b.flip(1)  # (B, L, D)
        else:
            for layer in self.layers:
                h, residual = layer(h, residual)
        residual = h if residual is None else residual + self.drop_path(h)
        h = self.norm_f(residual.to(self.norm_f.weight.dtype))  # (B, L, D)
        return self.norm_f(h) if self.config.double_final_norm else h


SIZES = {"tiny": 192, "small": 384, "base": 768}

for _size, _dim in SIZES.items():
    register_model(f"aum_{_size}", AuMConfig(embed_dim=_dim), MambaAudioModel)
