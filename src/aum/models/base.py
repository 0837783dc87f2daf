"""`AudioModel`: what every family shares (patch embedding, special tokens, positions, pooling, heads, hooks),
and what a trained model knows about its own inputs and outputs (`meta`: frontend, labels, task).

A family subclass only builds its blocks and implements `_run_blocks(h) -> normalised tokens`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from aum.audio.arrays import to_mono
from aum.audio.frontend import Frontend
from aum.audio.windows import windows
from aum.errors import ConfigError
from aum.models.layers import PatchEmbed, PosEmbed, lecun_normal_, pair, prediction_head
from aum.schema import Section, setting

log = logging.getLogger(__name__)

CLS_POSITIONS = ("head", "middle", "tail", "none", "double")  # double = AuM head + tail tokens
POOL_ALIASES = {"ft_avgtok": "mean", "ft_cls": "cls", "avgtok": "mean"}


@dataclass
class AudioModelConfig(Section):
    """Fields every family has (the `model:` keys of a recipe). Families subclass this (one dataclass per family)."""

    section: ClassVar[str] = "model"
    family: ClassVar[str] = ""
    embed_dim: int = setting(768, "token width (tiny 192, small 384, base 768)", low=1)
    depth: int = setting(24, "number of blocks (AuM / SSAMBA 24, AST / SSAST 12)", low=1)
    num_classes: int = setting(527, "classifier outputs (0: no head); a training run sets it from the labels",
                               low=0)
    input_frames: int = setting(1024, "input length the positions are built for; a run sets it from "
                                "frontend.target_frames", low=1)
    mel_bins: int = setting(128, "mel bins of the input; a run sets it from frontend.num_mel_bins", low=1)
    patch_size: int | tuple[int, int] = setting(16, "patch size in (mel bins, frames): square, or (f, t), e.g. "
                                                "(128, 2) for SSAST frame patches", low=1)
    patch_stride: int | tuple[int, int] = setting(16, "patch stride: 16 = no overlap, 10 = the overlapping "
                                                  "patches of the AST / SSAST / SSAMBA fine-tuning recipes", low=1)
    cls_position: str = setting("middle", "where the special token(s) sit; double = AuM head + tail tokens",
                                choices=CLS_POSITIONS)
    pool: str = setting("auto", "clip embedding: cls (ft_cls) or mean of the patch tokens (ft_avgtok); auto = cls "
                        "when there is a CLS token", choices=("auto", "cls", "mean"))
    drop_rate: float = setting(0.0, "dropout after the positional embedding", low=0.0, high=1.0, open_high=True)
    drop_path: float = setting(0.0, "stochastic depth rate of the last block (linear from 0)", low=0.0, high=1.0,
                               open_high=True)
    pretrain_heads: bool = setting(False, "mask_embed + cpredlayer + gpredlayer: the masked patch modelling parts")
    head_norm_eps: float = setting(1e-5, "eps of the head's LayerNorm (HuggingFace AST: 1e-12)", low=0.0,
                                   open_low=True)

    def __post_init__(self) -> None:
        for name in ("patch_size", "patch_stride"):  # YAML / JSON give lists; a square pair is kept as one int
            value = getattr(self, name)
            if not isinstance(value, int):
                f, t = pair(value)
                setattr(self, name, f if f == t else (f, t))
        self.pool = POOL_ALIASES.get(self.pool, self.pool)
        super().__post_init__()
        if self.pool == "cls" and self.cls_position == "none":
            raise ConfigError("model.pool='cls' needs a CLS token; use pool='mean' with cls_position='none'")

    @property
    def num_prefix_tokens(self) -> int:
        return {"none": 0, "double": 2}.get(self.cls_position, 1)

    @property
    def resolved_pool(self) -> str:
        return self.pool if self.pool != "auto" else ("cls" if self.num_prefix_tokens else "mean")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class AudioModel(nn.Module):
    """Input x (B, T, F) normalised fbank -> logits (B, classes). Any T: positions are interpolated at run time."""

    head_norm: ClassVar[bool] = False  # True: `mlp_head` = LayerNorm + Linear (AST family); False: `head` Linear

    def __init__(self, config: AudioModelConfig):
        super().__init__()
        self.config = config
        self.meta: dict[str, Any] = {}  # labels, frontend settings, provenance (saved with the weights)
        self.model_name = config.family
        d = config.embed_dim
        self.patch_embed = PatchEmbed(d, config.patch_size, config.patch_stride)
        self.built_grid = self.patch_embed.grid(config.input_frames, config.mel_bins)
        for name in self.special_token_names:
            setattr(self, name, nn.Parameter(torch.zeros(1, 1, d)))
        self.pos_embed = PosEmbed(config.num_prefix_tokens, self.built_grid, d)
        self.pos_drop = nn.Dropout(config.drop_rate)
        if config.pretrain_heads:
            self.mask_embed = nn.Parameter(nn.init.xavier_normal_(torch.zeros(1, 1, d)))
            self.cpredlayer, self.gpredlayer = prediction_head(d), prediction_head(d)
        self._build_head(config.num_classes)

    # ---- heads -------------------------------------------------------------------------------------------
    def _build_head(self, num_classes: int) -> None:
        """`head` Linear (AuM) or `mlp_head` LayerNorm + Linear; num_classes 0 = no head parameters (Identity)."""
        d = self.config.embed_dim
        head: nn.Module
        if num_classes <= 0:
            head = nn.Identity()
        elif self.head_norm:
            head = nn.Sequential(nn.LayerNorm(d, eps=self.config.head_norm_eps), nn.Linear(d, num_classes))
        else:
            linear = nn.Linear(d, num_classes)
            nn.init.trunc_normal_(linear.weight, std=0.02)
            nn.init.zeros_(linear.bias)
            head = linear
        setattr(self, "mlp_head" if self.head_norm else "head", head)

    def layer_id(self, name: str) -> int:
        """Depth of parameter `name` for layer-wise learning-rate decay: 0 for the embeddings (patches, positions,
        special tokens, mask embedding), i + 1 for block i, depth + 1 for what follows the blocks (norms, heads)."""
        parts = name.split(".")
        if parts[0] in ("layers", "blocks") and len(parts) > 1 and parts[1].isdigit():
            return int(parts[1]) + 1
        if parts[0] in ("patch_embed", "pos_embed", "mask_embed", *self.special_token_names):
            return 0
        return self.config.depth + 1

    def classifier(self) -> nn.Module:
        return self.get_submodule("mlp_head" if self.head_norm else "head")

    def reset_classifier(self, num_classes: int) -> None:
        self.config = dataclasses.replace(self.config, num_classes=num_classes)
        self._build_head(num_classes)

    # ---- token layout ------------------------------------------------------------------------------------
    @property
    def num_prefix_tokens(self) -> int:
        return self.config.num_prefix_tokens

    @property
    def special_token_names(self) -> tuple[str, ...]:
        """Parameter names of the special tokens, in their `pos_embed` prefix order."""
        if self.config.cls_position == "double":
            return "cls_token_head", "cls_token_tail"
        return ("cls_token", "dist_token")[:self.num_prefix_tokens]

    def cls_index(self, num_patches: int) -> int:
        """Index of the first special token in the sequence of `num_patches` patches + prefix tokens."""
        where = {"head": 0, "none": 0, "double": 0, "middle": num_patches // 2, "tail": num_patches}
        return where[self.config.cls_position]

    def patch_grid(self, frames: int) -> tuple[int, int]:
        """(n_f, n_t) patches for an input of `frames` frames (and the configured mel bins)."""
        return self.patch_embed.grid(frames, self.config.mel_bins)

    def _prefix_tokens(self, batch: int) -> torch.Tensor | None:
        if not self.num_prefix_tokens:
            return None
        tokens = [getattr(self, name) for name in self.special_token_names]
        return torch.cat(tokens, dim=1).expand(batch, -1, -1)  # (B, P, D)

    def _grid_for(self, num_patches: int) -> tuple[int, int]:
        n_f = self.built_grid[0]
        if num_patches % n_f:
            raise ConfigError(f"{num_patches} patch tokens do not fit a grid with {n_f} frequency rows")
        return n_f, num_patches // n_f

    # ---- pretraining hooks / encoder -----------------------------------------------------------------------
    def patch_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch embedding only (no positions, no CLS): (B, T, F) -> (B, N, D), frequency-major order."""
        return self.patch_embed(x)

    def _encode(self, tokens: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """(B, N, D) patch tokens -> (B, N + P, D) normalised outputs, special tokens at `cls_index(N)`."""
        b, n, _ = tokens.shape
        grid = grid or self._grid_for(n)
        pos_prefix, pos_patches = self.pos_embed(grid)  # (1, P, D), (1, N, D)
        h = tokens + pos_patches
        prefix = self._prefix_tokens(b)
        if prefix is not None and self.config.cls_position == "double":  # AuM: one token at each end
            special = prefix + pos_prefix  # (B, 2, D)
            h = torch.cat([special[:, :1], h, special[:, 1:]], dim=1)  # (B, N + 2, D)
        elif prefix is not None:
            i = self.cls_index(n)
            h = torch.cat([h[:, :i], prefix + pos_prefix, h[:, i:]], dim=1)  # (B, N + P, D)
        return self._run_blocks(self.pos_drop(h))

    def _run_blocks(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def split_tokens(self, tokens: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Encoder outputs (B, N + P, D) -> (special tokens (B, P, D) or None, patch tokens (B, N, D)); the patch
        tokens are in frequency-major order, `patch_grid(frames)` = (n_f, n_t) of them."""
        p = self.num_prefix_tokens
        if not p:
            return None, tokens
        if self.config.cls_position == "double":
            return torch.cat([tokens[:, :1], tokens[:, -1:]], dim=1), tokens[:, 1:-1]
        i = self.cls_index(tokens.shape[1] - p)
        return tokens[:, i:i + p], torch.cat([tokens[:, :i], tokens[:, i + p:]], dim=1)

    def encode_tokens(self, tokens: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """(B, N, D) patch tokens (e.g. masked) -> (B, N, D) encoder outputs at the same patch positions."""
        return self.split_tokens(self._encode(tokens, grid))[1]

    # ---- public forward ------------------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, L, D) tokens after the final norm (special tokens included, at their positions)."""
        return self._encode(self.patch_tokens(x), self.patch_grid(x.shape[1]))

    def forward_head(self, tokens: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        special, patches = self.split_tokens(tokens)
        if self.config.resolved_pool == "cls":
            assert special is not None, "pool='cls' without a special token"  # the config refuses this
            pooled = special.mean(dim=1)  # (B, D)
        else:
            pooled = patches.mean(dim=1)  # (B, D)
        return pooled if pre_logits else self.classifier()(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    # ---- a trained model's inputs and outputs (from `meta`, saved with the weights) ----------------------------
    def frontend(self) -> Frontend:
        """The exact features the model was trained on (`meta["frontend"]`)."""
        if "frontend" not in self.meta and "converted_from" in self.meta:
            raise ConfigError(f"{self.meta['converted_from']}: no frontend recorded with these weights (a HuggingFace "
                              "folder keeps it in preprocessor_config.json: sampling_rate, num_mel_bins, max_length, "
                              "mean, std); add that file, or save the model with meta={'frontend': ...}")
        if "frontend" not in self.meta:
            raise ConfigError("this model has no meta['frontend']; it was not saved by `aum train` (save it with "
                              "save_pretrained(model, dir, meta={'frontend': Frontend(...).to_dict(), "
                              "'labels': [...]})")
        return Frontend.from_dict(self.meta["frontend"])

    def label_names(self) -> list[str]:
        """`meta["labels"]`, or the class indices as strings (with a warning) when the model has none."""
        labels = self.meta.get("labels")
        if not labels:
            n = self.config.num_classes
            log.warning("model has no meta['labels']: using class indices 0..%d", n - 1)
            return [str(i) for i in range(n)]
        return list(labels)

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, C) logits -> float32 scores: softmax for a model trained with cross-entropy (`meta["task"]["loss"]`
        "ce"), else sigmoid (multi-label BCE, as the AudioSet recipes)."""
        task = self.meta.get("task") or {}
        logits = logits.float()
        return torch.softmax(logits, dim=-1) if task.get("loss") == "ce" else torch.sigmoid(logits)

    def clip_inputs(self, waveform: ArrayLike | torch.Tensor, sample_rate: int, whole: bool = False,
                    hop: int | None = None) -> torch.Tensor:
        """One clip -> (W, T, F) model inputs on the model's device: windows of the training length every `hop`
        frames (default half a window), or the whole clip as one input (`whole=True`)."""
        frontend = self.frontend()
        features = frontend.whole(to_mono(waveform), sample_rate)  # (frames, bins), padded to the training length
        x = features.unsqueeze(0) if whole else windows(features, frontend.target_frames, hop)  # (W, T, F)
        return x.to(next(self.parameters()).device)

    @torch.no_grad()
    def window_scores(self, waveform: ArrayLike | torch.Tensor, sample_rate: int, whole: bool = False,
                      hop: int | None = None, batch_size: int = 16) -> np.ndarray:
        """(W, classes) scores of each window of one clip (`aum.audio.window_starts` gives their first frames)."""
        self.eval()
        x = self.clip_inputs(waveform, sample_rate, whole, hop)
        return torch.cat([self.scores(self(chunk)) for chunk in x.split(batch_size)]).cpu().numpy()

    def predict(self, waveform: ArrayLike | torch.Tensor, sample_rate: int, top_k: int = 5, whole: bool = False,
                hop: int | None = None) -> list[tuple[str, float]]:
        """Top-k (label, score) of one waveform at `sample_rate` (resampled to the model's): the scores of its
        windows averaged."""
        return top_labels(self.window_scores(waveform, sample_rate, whole, hop).mean(axis=0), self.label_names(),
                          top_k)

    def _init_embeddings(self) -> None:
        """Official init for embeddings: patch conv lecun-normal with zero bias; special tokens trunc-normal."""
        lecun_normal_(self.patch_embed.proj.weight)
        bias = self.patch_embed.proj.bias
        if bias is not None:  # the patch convolution always has one
            nn.init.zeros_(bias)
        for name in self.special_token_names:
            nn.init.trunc_normal_(getattr(self, name), std=0.02)


def top_labels(scores: np.ndarray, labels: list[str], k: int = 5) -> list[tuple[str, float]]:
    """The `k` highest (label, score) pairs of a (classes,) score vector, highest first (ties: lower index)."""
    order = np.argsort(-scores, kind="mergesort")[: max(1, k)]
    return [(labels[i], float(scores[i])) for i in order]
