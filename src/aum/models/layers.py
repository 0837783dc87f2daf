"""Layers shared by the four model families: patch embedding, positional embedding, blocks, pretext heads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from aum.errors import ConfigError

PatchShape = int | Sequence[int]  # an int (square) or (frequency, time)
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def pair(value: PatchShape) -> tuple[int, int]:
    """An int or a 2-sequence as (frequency, time)."""
    if isinstance(value, int):
        return value, value
    f, t = value
    return int(f), int(t)


def patch_grid(length: int, patch: int, stride: int) -> int:
    """Number of patches along one axis of a `Conv2d(kernel=patch, stride=stride)` without padding."""
    if length < patch:
        raise ConfigError(f"input axis of {length} bins/frames is shorter than one patch ({patch})")
    return (length - patch) // stride + 1


def grid_shape(mel_bins: int, frames: int, patch: PatchShape, stride: PatchShape) -> tuple[int, int]:
    """(n_f, n_t) patches of a (mel_bins x frames) image for a patch (f, t) and a stride (f, t) (or ints)."""
    (pf, pt), (sf, st) = pair(patch), pair(stride)
    return patch_grid(mel_bins, pf, sf), patch_grid(frames, pt, st)


class DropPath(nn.Module):
    """Stochastic depth per sample (timm semantics: scale the kept samples by 1 / keep_prob)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)  # (B, 1, 1)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class PatchEmbed(nn.Module):
    """(B, T, F) fbank -> (B, 1, F, T) image -> Conv2d -> (B, N, D) tokens in frequency-major order (f * n_t + t).

    `patch_size` / `stride`: an int (square) or (frequency, time), e.g. SSAST frame patches (128, 2)."""

    def __init__(self, embed_dim: int, patch_size: PatchShape = 16, stride: PatchShape = 16) -> None:
        super().__init__()
        self.patch_size, self.stride = pair(patch_size), pair(stride)
        self.proj = nn.Conv2d(1, embed_dim, kernel_size=self.patch_size, stride=self.stride)

    def grid(self, frames: int, mel_bins: int) -> tuple[int, int]:
        return grid_shape(mel_bins, frames, self.patch_size, self.stride)

    def frames_seen(self, frames: int) -> int:
        """How many of `frames` input frames the patches cover (the Conv2d drops a remainder under one stride)."""
        return (patch_grid(frames, self.patch_size[1], self.stride[1]) - 1) * self.stride[1] + self.patch_size[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3:
            raise ConfigError(f"expected a normalised fbank batch (B, T, F), got shape {tuple(x.shape)}")
        x = x.transpose(1, 2)  # (B, F, T)
        if self.stride != self.patch_size:  # overlapping patches: a real convolution
            return self.proj(x.unsqueeze(1)).flatten(2).transpose(1, 2)  # (B, N, D)
        (pf, pt), (n_f, n_t) = self.patch_size, self.grid(x.shape[2], x.shape[1])
        patches = x[:, :n_f * pf, :n_t * pt].reshape(-1, n_f, pf, n_t, pt)
        patches = patches.permute(0, 1, 3, 2, 4)  # (B, n_f, n_t, pf, pt)
        patches = patches.reshape(x.shape[0], n_f * n_t, pf * pt)  # (B, N, pf*pt), frequency-major
        return F.linear(patches, self.proj.weight.flatten(1), self.proj.bias)  # (B, N, D): same as the conv


def resample_grid(pos: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                  antialias: bool = False) -> torch.Tensor:
    """Resample patch positional embeddings (1, n_f*n_t, D) from `old_grid` to `new_grid` (bilinear)."""
    if tuple(old_grid) == tuple(new_grid):
        return pos
    dim = pos.shape[-1]
    grid = pos.reshape(1, old_grid[0], old_grid[1], dim).permute(0, 3, 1, 2)  # (1, D, n_f, n_t)
    grid = F.interpolate(grid.float(), size=tuple(new_grid), mode="bilinear", align_corners=False,
                         antialias=antialias).to(pos.dtype)  # (1, D, new_f, new_t)
    return grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], dim)  # (1, N', D)


class PosEmbed(nn.Module):
    """Learned absolute positions `pos_embed` (1, P + n_f*n_t, D), prefix (CLS/dist) slots FIRST.

    Any other grid is served by bilinear interpolation at run time (nothing cached).
    """

    def __init__(self, num_prefix: int, grid: tuple[int, int], embed_dim: int):
        super().__init__()
        self.num_prefix, self.grid = num_prefix, pair(grid)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_prefix + grid[0] * grid[1], embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (prefix (1, P, D), patches (1, N, D)) for `grid`."""
        prefix, patches = self.pos_embed[:, :self.num_prefix], self.pos_embed[:, self.num_prefix:]
        return prefix, resample_grid(patches, self.grid, grid)


class MambaBlock(nn.Module):
    """Add -> Norm -> Mixer (mamba_ssm `Block`), returning (mixer output, residual)."""

    def __init__(self, dim: int, mixer: nn.Module, norm: nn.LayerNorm | nn.RMSNorm, drop_path: float = 0.0,
                 residual_in_fp32: bool = True):
        super().__init__()
        self.mixer, self.norm = mixer, norm
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.residual_in_fp32 = residual_in_fp32

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        residual = hidden if residual is None else residual + self.drop_path(hidden)  # (B, L, D)
        hidden = self.norm(residual.to(self.norm.weight.dtype))
        if self.residual_in_fp32:
            residual = residual.float()
        return self.mixer(hidden), residual


class Attention(nn.Module):
    """timm-style multi-head self-attention (`qkv`, `proj`); `mode="naive"` spells softmax(QK^T/sqrt(d))V out."""

    def __init__(self, dim: int, num_heads: int, mode: str = "sdpa"):
        super().__init__()
        if mode not in ("sdpa", "naive"):
            raise ConfigError(f"attention must be 'sdpa' or 'naive', got {mode!r}")
        self.num_heads, self.mode = num_heads, mode
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, H, L, d_h) each
        if self.mode == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, d_h)
        else:
            attn = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)  # (B, H, L, L)
            out = attn.softmax(dim=-1) @ v  # (B, H, L, d_h)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))  # (B, L, D)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class ViTBlock(nn.Module):
    """Pre-norm transformer block with timm names (`norm1`, `attn`, `norm2`, `mlp`)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, eps: float = 1e-6,
                 drop_path: float = 0.0, attention: str = "sdpa"):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=eps), Attention(dim, num_heads, attention)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=eps), Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))  # (B, L, D)
        return x + self.drop_path(self.mlp(self.norm2(x)))


def prediction_head(dim: int, out: int = 256) -> nn.Sequential:
    """SSAST pretext head (`cpredlayer` / `gpredlayer`): Linear(D, D) - ReLU - Linear(D, 256)."""
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, out))


def lecun_normal_(weight: torch.Tensor) -> None:
    fan_in = weight[0].numel()
    nn.init.trunc_normal_(weight, std=math.sqrt(1.0 / fan_in) / 0.87962566103423978)


def modules_of_type(module: nn.Module, kind: type[ModuleT]) -> list[ModuleT]:
    """Every submodule of `module` (itself included) that is a `kind`, in registration order."""
    return [m for m in module.modules() if isinstance(m, kind)]


def init_vit_weights(module: nn.Module) -> None:
    """timm ViT init: Linear trunc-normal(0.02) with zero bias; LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
