"""Load official AuM / SSAMBA / AST / SSAST / Vim checkpoints (and our own files) into our models, with a report.

Official names map onto ours as follows: AuM is identical; SSAMBA / AST / SSAST drop the `v.` prefix of the timm /
Vim backbone and store `v.pos_embed` as `pos_embed.pos_embed`. Known unused extras (the ImageNet `v.head`,
`v.head_dist`, the SSL `p_input_fdim` / `p_input_tdim`) are listed as ignored. Strict by default: anything else
missing, unexpected or of the wrong shape, or an AuM v1/v2 mismatch, raises with the readable report.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aum.checkpoint_io import read_json_file, read_safetensors, read_torch_file
from aum.errors import CheckpointError, CheckpointMismatch
from aum.models.layers import patch_grid, resample_grid

log = logging.getLogger(__name__)

IGNORED_OFFICIAL = re.compile(r"^(v\.head(_dist)?\.|head_dist\.|p_input_[ft]dim$|rope\.)")
PRETEXT = re.compile(r"^(mask_embed$|cpredlayer\.|gpredlayer\.)")
VIT_FAMILIES = ("ssamba", "ast", "ssast")


@dataclass
class LoadReport:
    source: str = ""
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, str] = field(default_factory=dict)  # key -> "checkpoint shape vs model shape"
    reshaped: dict[str, str] = field(default_factory=dict)  # key -> what was done (interpolated, averaged...)
    reinitialised: list[str] = field(default_factory=list)  # head / pretext keys kept at their init, with reason
    ignored: list[str] = field(default_factory=list)  # known unused official extras
    variant: str | None = None  # AuM mixer type found in the checkpoint
    expected_variant: str | None = None
    loaded: int = 0

    @property
    def variant_mismatch(self) -> bool:
        return self.variant is not None and self.expected_variant is not None and self.variant != self.expected_variant

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.variant_mismatch)

    def __str__(self) -> str:
        done = f"{self.loaded} tensors loaded" if self.loaded or self.ok else "nothing loaded"
        lines = [f"load report for {self.source or 'state dict'}: {done}, " + ("OK" if self.ok else "PROBLEMS")]
        if self.variant is not None:
            note = " (MISMATCH: model is " + str(self.expected_variant) + ")" if self.variant_mismatch else ""
            lines.append(f"  mixer variant in checkpoint: {self.variant}{note}")
        for title, items in (("missing", self.missing), ("unexpected", self.unexpected),
                             ("shape mismatch", [f"{k}: {v}" for k, v in self.mismatched.items()]),
                             ("reshaped", [f"{k}: {v}" for k, v in self.reshaped.items()]),
                             ("re-initialised", self.reinitialised), ("ignored", self.ignored)):
            if items:
                shown = items if len(items) <= 12 else items[:12] + [f"... {len(items) - 12} more"]
                lines.append(f"  {title} ({len(items)}): " + ", ".join(shown))
        return "\n".join(lines)


def read_state_dict(src) -> dict[str, torch.Tensor]:
    """A state dict from a path (.pth/.pt via torch.load(weights_only=True), .safetensors) or a dict."""
    source = str(src) if isinstance(src, (str, Path)) else "state dict"
    if isinstance(src, (str, Path)):
        path = Path(src)
        if path.is_dir():
            path = path / "model.safetensors"
        if path.suffix == ".safetensors":
            return read_safetensors(path)
        src = read_torch_file(path)  # weights_only=True: pickled code is refused
    for wrapper in ("model", "state_dict", "model_state_dict"):  # Vim / training-script wrappers
        if isinstance(src, dict) and isinstance(src.get(wrapper), dict):
            src = src[wrapper]
    if not isinstance(src, dict) or not all(isinstance(v, torch.Tensor) for v in src.values()):
        raise CheckpointError(source, "not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in src.items()}


def to_official_state_dict(model) -> dict[str, torch.Tensor]:
    """Our state dict under the official key names of `model`'s family (inverse of the load mapping)."""
    sd = model.state_dict()
    if model.config.family not in VIT_FAMILIES:
        return dict(sd)
    out = {}
    for key, value in sd.items():
        if key.startswith("mlp_head.") or PRETEXT.match(key):
            out[key] = value
        else:
            out["v." + ("pos_embed" if key == "pos_embed.pos_embed" else key)] = value
    return out


def _from_official_names(sd: dict, family: str, report: LoadReport) -> dict:
    out = {}
    for key, value in sd.items():
        if IGNORED_OFFICIAL.match(key):
            report.ignored.append(key)
            continue
        if family in VIT_FAMILIES and key.startswith("v."):
            key = key[2:]
        out["pos_embed.pos_embed" if key == "pos_embed" else key] = value
    return out


def _detect_variant(sd: dict) -> str | None:
    if not any(".mixer." in k for k in sd):
        return None
    if any(".mixer.conv1d_b." in k for k in sd):
        return "v2"
    return "v1" if any(k.endswith(".mixer.A_b_log") for k in sd) else "none"


def _checkpoint_grid(model, num_patches: int, raw: dict, vim: bool) -> tuple[int, int]:
    """Infer the (n_f, n_t) grid a checkpoint's positional embedding was trained on."""
    mel, patch = model.config.mel_bins, model.config.patch_size
    if vim:
        side = round(num_patches ** 0.5)
        if side * side == num_patches:
            return side, side
    if "p_input_fdim" in raw and "p_input_tdim" in raw:  # SSL pretraining: no overlap (stride = patch)
        f, t = int(raw["p_input_fdim"]), int(raw["p_input_tdim"])
        return patch_grid(f, patch, patch), patch_grid(t, patch, patch)
    for n_f in dict.fromkeys([model.built_grid[0], patch_grid(mel, patch, patch), patch_grid(mel, patch, 10)]):
        if num_patches % n_f == 0:
            return n_f, num_patches // n_f
    raise ValueError(f"cannot infer the patch grid of a checkpoint with {num_patches} positions; pass grid=(n_f, n_t)")


def _adapt_pos_embed(model, sd: dict, raw: dict, report: LoadReport, vim: bool, grid) -> None:
    key = "pos_embed.pos_embed"
    if key not in sd:
        return
    pos, want = sd[key], model.pos_embed.pos_embed
    p = model.num_prefix_tokens
    if vim:  # Vim keeps its middle-CLS slot in the middle: move it to the front (our CLS-first layout)
        mid = (pos.shape[1] - 1) // 2
        pos = torch.cat([pos[:, mid:mid + 1], pos[:, :mid], pos[:, mid + 1:]], dim=1)
    old_grid = grid or _checkpoint_grid(model, pos.shape[1] - p, raw, vim)
    if old_grid[0] * old_grid[1] + p != pos.shape[1]:
        report.mismatched[key] = f"{tuple(pos.shape)} does not hold {p} special + {old_grid} patch positions"
        return
    if tuple(old_grid) != tuple(model.built_grid) or vim:
        crop = model.config.family in ("ssamba", "ssast")
        patches = resample_grid(pos[:, p:], old_grid, model.built_grid, antialias=vim, crop_time=crop and not vim)
        sd[key] = torch.cat([pos[:, :p], patches], dim=1).to(want.dtype)  # (1, P + N, D)
        how = "cropped/interpolated" if crop else "interpolated"
        report.reshaped[key] = f"grid {old_grid[0]}x{old_grid[1]} -> {model.built_grid[0]}x{model.built_grid[1]} " \
                               f"{how}" + (", Vim middle-CLS slot moved to the front" if vim else "")


def _adapt_patch_embed(sd: dict, report: LoadReport) -> None:
    key = "patch_embed.proj.weight"
    if key in sd and sd[key].shape[1] == 3:  # ImageNet RGB kernel -> one channel
        sd[key] = sd[key].mean(dim=1, keepdim=True)  # (D, 1, k, k)
        report.reshaped[key] = "RGB kernel averaged to 1 channel"


def _split_optional(sd: dict, own: dict, report: LoadReport) -> set[str]:
    """Classifier keys of another shape, and classifier / pretext keys absent on one side, are not errors.

    Returns the model keys that may stay at their initialisation."""
    optional = re.compile(r"^(head\.|mlp_head\.)|" + PRETEXT.pattern)
    for key in [k for k in sd if optional.match(k)]:
        if key not in own:
            report.ignored.append(f"{key} (model has no such part)")
            sd.pop(key)
        elif sd[key].shape != own[key].shape:
            report.reinitialised.append(f"{key} (checkpoint {tuple(sd[key].shape)}, model {tuple(own[key].shape)})")
            sd.pop(key)
    kept = {k for k in own if k not in sd and optional.match(k)}
    noted = {r.split(" ")[0] for r in report.reinitialised}
    report.reinitialised += [f"{k} (not in checkpoint)" for k in sorted(kept - noted)]
    return kept


def load_state_dict_checked(model, sd: dict, report: LoadReport, strict: bool = True, raw: dict | None = None,
                            vim: bool = False, grid=None) -> LoadReport:
    """Adapt `sd` (our names) to `model` (patch kernel, positions, head), compare, then load or raise."""
    own = model.state_dict()
    _adapt_patch_embed(sd, report)
    _adapt_pos_embed(model, sd, raw or {}, report, vim, grid)
    optional = _split_optional(sd, own, report)
    report.missing = [k for k in own if k not in sd and k not in optional]
    report.unexpected = [k for k in sd if k not in own]
    report.mismatched.update({k: f"checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                              for k, v in sd.items() if k in own and v.shape != own[k].shape})
    if strict and not report.ok:
        raise CheckpointMismatch(str(report))
    usable = {k: v for k, v in sd.items() if k in own and k not in report.mismatched}
    model.load_state_dict(usable, strict=False)
    report.loaded = len(usable)
    if report.ok:
        log.info("%s", str(report).splitlines()[0])
    else:
        log.warning("%s", report)
    return report


def load_official(model, path_or_state_dict, strict: bool = True, grid: tuple[int, int] | None = None) -> LoadReport:
    """Load an official checkpoint of `model`'s family (or a Vim ImageNet checkpoint into AuM)."""
    source = str(path_or_state_dict) if isinstance(path_or_state_dict, (str, Path)) else "state dict"
    report = LoadReport(source=source)
    raw = read_state_dict(path_or_state_dict)
    family = model.config.family
    vim = family == "aum" and "pos_embed" in raw  # Vim ImageNet weights store a bare `pos_embed`
    sd = _from_official_names(raw, family, report)
    if vim:
        for key in [k for k in sd if k.startswith("head.")]:
            report.ignored.append(f"{key} (ImageNet head)")
            sd.pop(key)
    if family in ("aum", "ssamba"):
        report.variant, report.expected_variant = _detect_variant(sd), model.config.aum_type
    return load_state_dict_checked(model, sd, report, strict, raw=raw, vim=vim, grid=grid)


def _saved_grid(path: Path) -> tuple[int, int] | None:
    """The patch grid recorded in a `save_pretrained` folder's config.json (None when absent)."""
    config_file = (path if path.is_dir() else path.parent) / "config.json"
    if not config_file.is_file():
        return None
    cfg = read_json_file(config_file).get("model_config", {})
    if not {"mel_bins", "input_frames", "patch_size", "patch_stride"} <= set(cfg):
        return None
    patch, stride = cfg["patch_size"], cfg["patch_stride"]
    return patch_grid(cfg["mel_bins"], patch, stride), patch_grid(cfg["input_frames"], patch, stride)


def load_checkpoint(model, src, strict: bool = True) -> LoadReport:
    """Our `save_pretrained` directory / `.safetensors`, else an official checkpoint (`load_official`)."""
    path = Path(src) if isinstance(src, (str, Path)) else None
    if path is not None and (path.is_dir() or path.suffix == ".safetensors"):
        report = LoadReport(source=str(src))
        return load_state_dict_checked(model, read_state_dict(path), report, strict, grid=_saved_grid(path))
    return load_official(model, src, strict)
