"""The adaptation rules of the official codebases, in our own code (see docs/CHECKPOINTS.md for the side-by-side table).

- Positions, AuM (and Vim ImageNet weights into AuM): the whole patch grid is resized bilinearly WITH antialiasing
  (timm's `resample_abs_pos_embed` semantics), prefix slots untouched.
- Positions, AST / SSAST / SSAMBA (AudioSet, SSL-pretrained and DeiT ImageNet checkpoints): each axis on its own,
  time first: a shorter axis is centre-cropped (first kept index `old // 2 - new // 2`), a longer one is stretched
  bilinearly without antialiasing, an equal one is kept.
- RGB patch kernels (ImageNet): AST / SSAST sum the three channels, AuM / SSAMBA (Vim) average them.
- Checkpoint layout: patch shape from the kernel, special tokens from the token parameters (none, one, AST's CLS +
  distillation pair, AuM's head + tail pair), the patch grid from `p_input_fdim/tdim` (SSL pretraining), a square
  grid (ImageNet), or the position count and the candidate strides; ambiguity is an error naming what to pass.
- Frame patches (one frequency row, 1 x N): every time stride fits the count, so the stride is the one that gives
  exactly 1 x N at the model's frames (no overlap, then SSAST's frame fine-tuning time stride 1, then the model's
  own); a frame grid is never resized unless `checkpoint_stride` says how it was made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from aum.errors import ConfigError
from aum.models.base import AudioModel, AudioModelConfig
from aum.models.layers import PatchShape, grid_shape, pair, patch_grid, resample_grid

CROP_FAMILIES = ("ast", "ssast", "ssamba")  # crop-or-stretch per axis; AuM resizes with antialiasing
SUMMED_RGB = ("ast", "ssast")
OFFICIAL_MEL_BINS = 128  # AST's DeiT init sums the RGB kernel; AuM (Vim) averages it


@dataclass
class CheckpointLayout:
    """What a checkpoint (under our key names) says about the model it came from."""

    patch_size: tuple[int, int]
    in_channels: int
    num_prefix: int
    cls_position: str | None  # "none" / "double" when the tokens say so; None when head / middle / tail is unknown
    dist_token: bool
    ssl_input: tuple[int, int] | None  # (mel bins, frames) of SSL pretraining (`p_input_fdim`, `p_input_tdim`)

    @property
    def imagenet(self) -> bool:
        return self.in_channels == 3


def read_layout(sd: dict[str, torch.Tensor], raw: dict[str, Any]) -> CheckpointLayout:
    kernel = sd.get("patch_embed.proj.weight")
    if kernel is None or kernel.ndim != 4:
        raise ConfigError("checkpoint has no 4-d patch_embed.proj.weight: not an AuM / SSAMBA / AST / SSAST / Vim file")
    double = "cls_token_head" in sd and "cls_token_tail" in sd
    dist = "dist_token" in sd
    num_prefix = 2 if double else int("cls_token" in sd) + int(dist)
    cls_position = "double" if double else ("none" if num_prefix == 0 else None)
    ssl = (int(raw["p_input_fdim"]), int(raw["p_input_tdim"])) if "p_input_fdim" in raw and "p_input_tdim" in raw \
        else None
    return CheckpointLayout(pair(kernel.shape[-2:]), int(kernel.shape[1]), num_prefix, cls_position, dist, ssl)


def _fmt(value: PatchShape) -> str:
    f, t = pair(value)
    return str(f) if f == t else f"({f}, {t})"


def check_layout(model: AudioModel, layout: CheckpointLayout) -> None:
    """Raise a one-line error naming the config field when the checkpoint's patch shape or tokens differ."""
    cfg = model.config
    if not layout.imagenet and layout.patch_size != pair(cfg.patch_size):
        raise ConfigError(f"checkpoint patches are {layout.patch_size[0]}x{layout.patch_size[1]} (frequency x time), "
                         f"the model's {_fmt(cfg.patch_size)}: pass patch_size={_fmt(layout.patch_size)}")
    if layout.num_prefix == model.num_prefix_tokens and (layout.cls_position != "double") == (
            cfg.cls_position != "double"):
        return
    if cfg.family in ("ast", "ssast"):
        want = "cls_position=none" if layout.num_prefix == 0 else f"dist_token={layout.num_prefix == 2}"
    else:
        want = f"cls_position={layout.cls_position or 'head, middle or tail'}"
    found = {0: "no CLS token", 1: "one CLS token", 2: "two special tokens"}.get(layout.num_prefix, "?")
    if layout.cls_position == "double":
        found = "a double CLS token (cls_token_head + cls_token_tail)"
    raise ConfigError(f"checkpoint has {found}, the model has {model.num_prefix_tokens} special token(s) "
                     f"(cls_position={cfg.cls_position!r}): pass {want}")


def stride_candidates(model: AudioModel, layout: CheckpointLayout) -> list[tuple[int, int]]:
    """Strides a checkpoint may have used: the model's, no overlap, and 10 for 16x16 patches (AST, SSAST and SSAMBA
    fine-tuning; official AuM patches do not overlap unless told)."""
    kernel = layout.patch_size
    overlap = kernel == (16, 16) and model.config.family != "aum"
    out = [pair(model.config.patch_stride), kernel] + ([(10, 10)] if overlap else [])
    return list(dict.fromkeys(out))


def infer_grid(model: AudioModel, layout: CheckpointLayout, num_patches: int,
               stride: PatchShape | None = None) -> tuple[tuple[int, int], list[tuple[int, int]], str]:
    """The (n_f, n_t) grid of a checkpoint's `num_patches` positions, the strides consistent with it, and a note.

    Official checkpoints are taken to span 128 mel bins (every official recipe does; SSL files store theirs).
    Raises naming `checkpoint_stride` when two strides give different grids for the same position count."""
    mel, kernel = OFFICIAL_MEL_BINS, layout.patch_size
    if layout.imagenet:  # DeiT / Vim ImageNet weights: a square grid of 16x16 patches
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ConfigError(f"ImageNet checkpoint with {num_patches} patch positions: not a square grid")
        return (side, side), [], "square ImageNet grid"
    if layout.ssl_input is not None:  # SSL pretraining: no overlap, input size stored in the checkpoint
        grid = grid_shape(*layout.ssl_input, kernel, kernel)
        return grid, [kernel], f"SSL pretraining input {layout.ssl_input[0]}x{layout.ssl_input[1]}"
    strides = [pair(stride)] if stride is not None else stride_candidates(model, layout)
    fits: dict[tuple[int, int], list[tuple[int, int]]] = {}  # grid -> the strides giving it
    for s in strides:
        n_f = patch_grid(mel, kernel[0], s[0]) if mel >= kernel[0] else 0
        if n_f and num_patches % n_f == 0:
            fits.setdefault((n_f, num_patches // n_f), []).append(s)
    if not fits:
        tried = ", ".join(_fmt(s) for s in strides)
        raise ConfigError(f"checkpoint has {num_patches} patch positions, which fit no grid of {mel} mel bins with "
                         f"{kernel[0]}x{kernel[1]} patches at stride {tried}: pass checkpoint_stride=(f, t)")
    own = tuple(model.built_grid)
    if own in fits and model.config.mel_bins == mel:  # the model's own grid: kept; say what else would fit
        others = [f"{g[0]}x{g[1]} at stride {_fmt(s[0])}" for g, s in fits.items() if g != own]
        note = "; the position count also fits " + ", ".join(others) if others else ""
        return own, fits[own], "same grid as the model" + note
    if len(fits) > 1:
        options = " or ".join(f"{g[0]}x{g[1]} (checkpoint_stride={_fmt(s[0])})" for g, s in fits.items())
        raise ConfigError(f"checkpoint has {num_patches} patch positions: {options}; pass checkpoint_stride")
    (grid, found), = fits.items()
    if grid[0] == 1 and stride is None:  # frame patches: any time stride gives 1 x N; the file does not say which
        fit = frame_stride(model, layout, grid)
        at = f", stride {_fmt(fit)} at the model's {model.config.input_frames} frames" if fit else ""
        return grid, [fit] if fit else [], f"1x{grid[1]} frame grid{at}"
    return grid, found, f"inferred from {num_patches} positions"


def frame_stride(model: AudioModel, layout: CheckpointLayout, grid: tuple[int, int]) -> tuple[int, int] | None:
    """The first stride at which the model's frames give exactly the 1 x N frame `grid`, among no overlap, the time
    stride 1 of SSAST's frame fine-tuning recipes (not AuM) and the model's own; None when none does."""
    cfg, (k_f, k_t) = model.config, layout.patch_size
    tried = [(k_f, k_t)] + ([(k_f, 1)] if cfg.family != "aum" else []) + [pair(cfg.patch_stride)]
    fits = [s for s in tried if grid_shape(cfg.mel_bins, cfg.input_frames, layout.patch_size, s) == tuple(grid)]
    return fits[0] if fits else None


def check_frame_grid(model: AudioModel, grid: tuple[int, int], strides: list[tuple[int, int]]) -> None:
    """Refuse to resize a frame grid (1 x N) whose stride the file does not record: one line naming what to pass."""
    own, cfg = tuple(model.built_grid), model.config
    if grid[0] != 1 or own == tuple(grid):
        return
    (k_f, k_t), s_t = pair(cfg.patch_size), pair(cfg.patch_stride)[1]
    skip = f", time stride {s_t} > patch width {k_t} skips frames" if s_t > k_t else ""
    fits = f"; stride {_fmt(strides[0])} would give 1x{grid[1]}" if strides else ""
    raise ConfigError(f"frame checkpoint with a 1x{grid[1]} grid (its stride is not recorded), the model's "
                      f"{cfg.input_frames} frames at stride {_fmt(cfg.patch_stride)} give 1x{own[1]}{skip}{fits}: "
                      f"pass checkpoint_stride=({k_f}, t), the stride it was trained with, and/or "
                      f"patch_stride=({k_f}, t) for the model")


def skipped_input(model: AudioModel) -> str:
    """A note when the model's stride exceeds its patch on an axis (input no patch sees: almost surely a mistake)."""
    cfg = model.config
    (k_f, k_t), (s_f, s_t) = pair(cfg.patch_size), pair(cfg.patch_stride)
    gaps = [f"{s - k} of every {s} {what} reach no patch" for k, s, what in
            ((k_t, s_t, "frames"), (k_f, s_f, "mel bins")) if s > k]
    return f"model stride {_fmt(cfg.patch_stride)} exceeds its patch {_fmt(cfg.patch_size)}: " + ", ".join(gaps) \
        if gaps else ""


def _to_image(patches: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    return patches.reshape(1, grid[0], grid[1], patches.shape[-1]).permute(0, 3, 1, 2)  # (1, D, n_f, n_t)


def crop_or_stretch(patches: torch.Tensor, old_grid: tuple[int, int],
                    new_grid: tuple[int, int]) -> tuple[torch.Tensor, str]:
    """AST / SSAST / SSAMBA rule on (1, N, D) patch positions: per axis (time first) crop centrally or stretch."""
    image = _to_image(patches.float(), old_grid)
    steps = []
    for axis, name in ((3, "time"), (2, "frequency")):
        old, new = image.shape[axis], new_grid[axis - 2]
        if new < old:
            start = old // 2 - new // 2
            image = image.narrow(axis, start, new)
            steps.append(f"{name} centre-cropped {old} -> {new} (from index {start})")
        elif new > old:
            size = (image.shape[2], new) if axis == 3 else (new, image.shape[3])
            image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
            steps.append(f"{name} interpolated {old} -> {new}")
    out = image.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], -1).to(patches.dtype)
    return out, ", ".join(steps)


def adapt_positions(patches: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                    family: str) -> tuple[torch.Tensor, str]:
    """(1, N, D) patch positions of `old_grid` -> `new_grid` by `family`'s official rule, with what was done."""
    head = f"grid {old_grid[0]}x{old_grid[1]} -> {new_grid[0]}x{new_grid[1]}"
    if tuple(old_grid) == tuple(new_grid):
        return patches, head + " kept"
    if family in CROP_FAMILIES:
        out, steps = crop_or_stretch(patches, old_grid, new_grid)
        return out, f"{head}: {steps}"
    return resample_grid(patches, old_grid, new_grid, antialias=True), head + ": bilinear with antialiasing"


def adapt_rgb_kernel(weight: torch.Tensor, family: str) -> tuple[torch.Tensor, str]:
    """ImageNet (D, 3, k, k) kernel -> (D, 1, k, k): summed (AST, SSAST) or averaged (AuM, SSAMBA)."""
    if family in SUMMED_RGB:
        return weight.sum(dim=1, keepdim=True), "RGB kernel summed to 1 channel"
    return weight.mean(dim=1, keepdim=True), "RGB kernel averaged to 1 channel"


def move_prefix_slots(pos: torch.Tensor, slots: list[int]) -> torch.Tensor:
    """(1, P + N, D) positions with the special slots at `slots` (original indices) -> those slots first."""
    n = pos.shape[1]
    slots = [s % n for s in slots]
    rest = [i for i in range(n) if i not in slots]
    return pos[:, slots + rest]


def fields_from_checkpoint(model_cfg: AudioModelConfig, sd: dict[str, torch.Tensor],
                           raw: dict[str, Any]) -> dict[str, Any]:
    """Config fields a checkpoint determines unambiguously (patch shape, special tokens, stride when unique)."""
    layout = read_layout(sd, raw)
    out: dict[str, Any] = {}
    if not layout.imagenet:
        out["patch_size"] = layout.patch_size[0] if layout.patch_size[0] == layout.patch_size[1] else layout.patch_size
    if model_cfg.family in ("ast", "ssast"):
        if layout.num_prefix == 0:
            out["cls_position"] = "none"
        else:
            out["dist_token"] = layout.dist_token
    elif layout.cls_position is not None and not layout.imagenet:
        out["cls_position"] = layout.cls_position
    return out
