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
from typing import Any

import torch

from aum.errors import CheckpointError, CheckpointMismatch
from aum.models import official_rules as rules
from aum.models.aum import AuMConfig
from aum.models.base import AudioModel
from aum.models.huggingface import hf_config_fields, hf_meta, hf_state_dict, is_hf_folder
from aum.models.layers import PatchShape, grid_shape, pair
from aum.models.registry import build_model, get_config
from aum.tensor_files import read_json_file, read_safetensors, read_torch_file

log = logging.getLogger(__name__)

IGNORED_OFFICIAL = re.compile(r"^(v\.head(_dist)?\.|head_dist\.|p_input_[ft]dim$|rope\.)")
PRETEXT = re.compile(r"^(mask_embed$|cpredlayer\.|gpredlayer\.)")
VIT_FAMILIES = ("ssamba", "ast", "ssast")
StateDict = dict[str, torch.Tensor]
CheckpointSource = str | Path | dict[str, Any]  # a file or folder, or a (possibly wrapped) state dict


@dataclass
class LoadReport:
    source: str = ""
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, str] = field(default_factory=dict)  # key -> "checkpoint shape vs model shape"
    reshaped: dict[str, str] = field(default_factory=dict)  # key -> what was done (interpolated, averaged...)
    reinitialised: list[str] = field(default_factory=list)  # head / pretext keys kept at their init, with reason
    ignored: list[str] = field(default_factory=list)  # known unused official extras
    notes: list[str] = field(default_factory=list)  # facts of the load worth knowing (stride, slots moved)
    variant: str | None = None  # AuM mixer type found in the checkpoint
    expected_variant: str | None = None
    loaded: int = 0

    @property
    def variant_mismatch(self) -> bool:
        return self.variant is not None and self.expected_variant is not None and self.variant != self.expected_variant

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.variant_mismatch)

    def _done(self, what: str) -> str:
        return what if self.loaded else f"would be {what} (nothing was loaded)"

    def __str__(self) -> str:
        done = f"{self.loaded} tensors loaded" if self.loaded or self.ok else "nothing loaded"
        lines = [f"load report for {self.source or 'state dict'}: {done}, " + ("OK" if self.ok else "PROBLEMS")]
        if self.variant is not None:
            note = " (MISMATCH: model is " + str(self.expected_variant) + ")" if self.variant_mismatch else ""
            lines.append(f"  mixer variant in checkpoint: {self.variant}{note}")
        for title, items in (("missing", self.missing), ("unexpected", self.unexpected),
                             ("shape mismatch", [f"{k}: {v}" for k, v in self.mismatched.items()]),
                             (self._done("reshaped"), [f"{k}: {v}" for k, v in self.reshaped.items()]),
                             (self._done("re-initialised"), self.reinitialised), ("ignored", self.ignored),
                             ("note", self.notes)):
            if items:
                shown = items if len(items) <= 12 else items[:12] + [f"... {len(items) - 12} more"]
                lines.append(f"  {title} ({len(items)}): " + ", ".join(shown))
        return "\n".join(lines)


def read_state_dict(src: CheckpointSource) -> StateDict:
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


def to_official_state_dict(model: AudioModel) -> StateDict:
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


def _from_official_names(sd: StateDict, family: str, report: LoadReport) -> StateDict:
    out = {}
    for key, value in sd.items():
        if IGNORED_OFFICIAL.match(key):
            report.ignored.append(key)
            continue
        if family in VIT_FAMILIES and key.startswith("v."):
            key = key[2:]
        out["pos_embed.pos_embed" if key == "pos_embed" else key] = value
    return out


def _detect_variant(sd: StateDict) -> str | None:
    if not any(".mixer." in k for k in sd):
        return None
    if any(".mixer.conv1d_b." in k for k in sd):
        return "v2"
    return "v1" if any(k.endswith(".mixer.A_b_log") for k in sd) else "none"


def _adapt_pos_embed(model: AudioModel, sd: StateDict, layout: rules.CheckpointLayout, report: LoadReport,
                     vim: bool, grid: tuple[int, int] | None = None, stride: PatchShape | None = None) -> None:
    key = "pos_embed.pos_embed"
    if key not in sd:
        return
    pos, p, family = sd[key], model.num_prefix_tokens, model.config.family
    if vim and p:  # Vim keeps its CLS slot(s) in the sequence (middle, or both ends): move them to the front
        slots = [0, -1] if layout.cls_position == "double" else [(pos.shape[1] - 1) // 2]
        pos = rules.move_prefix_slots(pos, slots)
        report.notes.append(f"Vim CLS position slot(s) {slots} moved to the front")
    if grid is not None:
        old_grid, strides, how = pair(grid), [pair(stride)] if stride is not None else [], "recorded"
    else:
        old_grid, strides, how = rules.infer_grid(model, layout, pos.shape[1] - p, stride)
        if stride is None and layout.ssl_input is None:  # a frame grid is never resized on a guessed stride
            rules.check_frame_grid(model, old_grid, strides)
    if "also fits" in how:
        report.notes.append(f"patch grid {old_grid[0]}x{old_grid[1]}: {how}")
    if old_grid[0] * old_grid[1] + p != pos.shape[1]:
        report.mismatched[key] = f"{tuple(pos.shape)} does not hold {p} special + {old_grid} patch positions"
        return
    own = pair(model.config.patch_stride)
    if strides and own not in strides:
        note = f"checkpoint patch stride {' or '.join(str(s) for s in strides)}, model {own}"
        if layout.ssl_input:  # a new stride for fine-tuning is the SSL recipe: a report line, not a warning
            report.notes.append(note + " (SSL pretraining -> fine-tuning)")
        else:
            report.notes.append(note)
            log.warning("%s: %s", report.source or "state dict", note)
    family_rule = "aum" if vim else family
    patches, what = rules.adapt_positions(pos[:, p:], old_grid, model.built_grid, family_rule)
    if what.endswith(" kept") and not vim:
        return
    sd[key] = torch.cat([pos[:, :p], patches], dim=1).to(model.pos_embed.pos_embed.dtype)  # (1, P + N, D)
    report.reshaped[key] = f"{what} (checkpoint grid {how})"
    if old_grid[0] == 1 and grid is None and stride is not None:
        report.notes.append(f"frame positions read at checkpoint_stride {pair(stride)} and adapted by the "
                            f"{family_rule} rule: {what}")


def _adapt_patch_embed(sd: StateDict, layout: rules.CheckpointLayout, family: str, report: LoadReport) -> None:
    key = "patch_embed.proj.weight"
    if layout.imagenet:
        sd[key], what = rules.adapt_rgb_kernel(sd[key], family)
        report.reshaped[key] = what


def _split_optional(sd: StateDict, own: StateDict, report: LoadReport) -> set[str]:
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


def load_state_dict_checked(model: AudioModel, sd: StateDict, report: LoadReport, strict: bool = True,
                            raw: dict[str, Any] | None = None, vim: bool = False, grid: tuple[int, int] | None = None,
                            stride: PatchShape | None = None) -> LoadReport:
    """Adapt `sd` (our names) to `model` (patch kernel, positions, head), compare, then load or raise."""
    own = model.state_dict()
    try:  # layout problems name the field to pass; the error names the file too
        layout = rules.read_layout(sd, raw or {})
        rules.check_layout(model, layout)
        if gap := rules.skipped_input(model):
            report.notes.append(gap)
            log.warning("%s: %s", report.source or "state dict", gap)
        _adapt_patch_embed(sd, layout, "aum" if vim else model.config.family, report)
        _adapt_pos_embed(model, sd, layout, report, vim, grid, stride)
    except CheckpointError:
        raise
    except ValueError as e:
        raise CheckpointError(report.source or "state dict", str(e)) from None
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


def load_official(model: AudioModel, path_or_state_dict: CheckpointSource, strict: bool = True,
                  grid: tuple[int, int] | None = None, checkpoint_stride: PatchShape | None = None) -> LoadReport:
    """Load an official checkpoint of `model`'s family (or DeiT / Vim ImageNet weights as the papers' init).

    `grid` (n_f, n_t) or `checkpoint_stride` (int or (f, t)) say how the checkpoint's positions were laid out when
    the position count alone is ambiguous (the error says so)."""
    source = str(path_or_state_dict) if isinstance(path_or_state_dict, (str, Path)) else "state dict"
    report = LoadReport(source=source)
    raw = read_state_dict(path_or_state_dict)
    family = model.config.family
    sd = _from_official_names(raw, family, report)
    kernel = sd.get("patch_embed.proj.weight")
    imagenet = kernel is not None and kernel.ndim == 4 and kernel.shape[1] == 3
    vim = family in ("aum", "ssamba") and ("pos_embed" in raw or imagenet)  # Vim ImageNet: a bare `pos_embed`
    if imagenet or vim:
        for key in [k for k in sd if k.startswith(("head.", "head_dist."))]:
            report.ignored.append(f"{key} (ImageNet head)")
            sd.pop(key)
    if isinstance(model.config, AuMConfig):  # AuM and SSAMBA: the mixer variant must match
        report.variant, report.expected_variant = _detect_variant(sd), model.config.aum_type
    return load_state_dict_checked(model, sd, report, strict, raw=raw, vim=vim, grid=grid, stride=checkpoint_stride)


def _saved_config(path: Path) -> dict[str, Any]:
    config_file = (path if path.is_dir() else path.parent) / "config.json"
    return read_json_file(config_file).get("model_config", {}) if config_file.is_file() else {}


def _saved_grid(path: Path) -> tuple[tuple[int, int] | None, PatchShape | None]:
    """The patch grid and stride recorded in a `save_pretrained` folder's config.json (None when absent)."""
    cfg = _saved_config(path)
    if not {"mel_bins", "input_frames", "patch_size", "patch_stride"} <= set(cfg):
        return None, None
    return grid_shape(cfg["mel_bins"], cfg["input_frames"], cfg["patch_size"], cfg["patch_stride"]), cfg["patch_stride"]


def load_checkpoint(model: AudioModel, src: CheckpointSource, strict: bool = True,
                    checkpoint_stride: PatchShape | None = None) -> LoadReport:
    """Our `save_pretrained` directory / `.safetensors`, a HuggingFace AST folder, else an official checkpoint."""
    path = Path(src) if isinstance(src, (str, Path)) else None
    if path is not None and (path.is_dir() or path.suffix == ".safetensors"):
        report = LoadReport(source=str(src))
        if is_hf_folder(path):
            sd, grid = hf_state_dict(path)
            report = load_state_dict_checked(model, sd, report, strict, grid=grid)
            model.meta = {**hf_meta(path), **model.meta}
            return report
        saved_grid, stride = _saved_grid(path)
        return load_state_dict_checked(model, read_state_dict(path), report, strict, grid=saved_grid, stride=stride)
    return load_official(model, src, strict, checkpoint_stride=checkpoint_stride)


def _saved_fields(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """Layout fields of one of our folders; a pretraining encoder (no classifier) keeps the fine-tuning stride."""
    found: dict[str, Any] = {k: cfg[k] for k in ("patch_size", "cls_position", "dist_token") if k in cfg}
    if "patch_stride" in cfg and cfg.get("num_classes", 1) > 0:
        found["patch_stride"] = cfg["patch_stride"]
    elif "patch_size" in cfg and pair(cfg["patch_size"]) != pair(get_config(name).patch_size):
        found["patch_stride"] = cfg["patch_size"]
    return found


def checkpoint_fields(name: str, src: CheckpointSource, overrides: dict[str, Any],
                      checkpoint_stride: PatchShape | None = None) -> dict[str, Any]:
    """Config fields of `name` that the checkpoint `src` determines and `overrides` leaves open.

    Official files: patch shape, special tokens, and the patch stride when the position count allows only one (not
    for SSL-pretraining or ImageNet files, whose fine-tuning picks its own stride; for frame patches, the stride that
    gives the stored 1 x N grid at the model's frames). HuggingFace AST folders: their
    whole architecture and input settings. Our own folders: the patch shape, special tokens and (for a
    classifier) the stride they record."""
    default = get_config(name).to_dict()
    found = _checkpoint_fields(name, src, overrides, checkpoint_stride)
    def same(key: str, value: Any) -> bool:  # (16, 16), [16, 16] and 16 are one patch shape
        if key in ("patch_size", "patch_stride"):
            return pair(value) == pair(default[key])
        return value == default[key]

    return {k: v for k, v in found.items() if not same(k, v)}


def _checkpoint_fields(name: str, src: CheckpointSource, overrides: dict[str, Any],
                       checkpoint_stride: PatchShape | None = None) -> dict[str, Any]:
    path = Path(src) if isinstance(src, (str, Path)) else None
    if path is not None and (path.is_dir() or path.suffix == ".safetensors"):
        found = hf_config_fields(path) if is_hf_folder(path) else _saved_fields(_saved_config(path), name)
        return {k: v for k, v in found.items() if k not in overrides}
    raw = read_state_dict(src)
    family = get_config(name).family
    sd = _from_official_names(raw, family, LoadReport())
    found = {k: v for k, v in rules.fields_from_checkpoint(get_config(name), sd, raw).items() if k not in overrides}
    layout = rules.read_layout(sd, raw)
    if "patch_stride" in overrides or layout.imagenet or "pos_embed.pos_embed" not in sd:
        return found
    if layout.ssl_input:  # fine-tuning keeps its own stride, except for a patch shape the default stride never had
        if "patch_size" in found and pair(found["patch_size"]) != pair(get_config(name).patch_size):
            found["patch_stride"] = found["patch_size"]
        return found
    with torch.device("meta"):
        model = build_model(name, get_config(name, **{**overrides, **found}))
    if layout.num_prefix != model.num_prefix_tokens:
        return found  # the load names the field to pass
    _, strides, _ = rules.infer_grid(model, layout, sd["pos_embed.pos_embed"].shape[1] - layout.num_prefix,
                               checkpoint_stride)
    if len(strides) == 1 and strides[0] != pair(model.config.patch_stride):
        f, t = strides[0]
        found["patch_stride"] = f if f == t else (f, t)
    return found
