"""The HEAR 2021 benchmark API for any checkpoint of ours (https://hearbenchmark.com, "common API").

    from aum.inference import hear
    model = hear.load_model("runs/demo/best")                 # a save_pretrained folder; model.to("cuda") works
    scene = hear.get_scene_embeddings(audio, model)           # audio (n_sounds, samples) in [-1, 1] -> (n, D)
    emb, ts = hear.get_timestamp_embeddings(audio, model)     # (n, n_times, D), timestamps (n, n_times) in ms

Scene embeddings: the model's pooled encoder output (`forward_head(pre_logits=True)`), averaged over windows of
the training length (hop: half a window), as `aum embed` does.
Timestamp embeddings: the whole clip runs as one sequence (positions interpolated); the patch tokens of each
time column are averaged over the frequency rows, which gives one embedding per patch column (every
`patch_stride` frames: 160 ms with 16x16 patches). They are interpolated linearly onto a regular grid every
`model.hop_ms` milliseconds (default 50, HEAR's suggested upper bound), timestamps at 0, hop, 2 hop, ... up to the
clip's duration; the native column centres are `(t * stride + patch / 2) * 10 ms`.
"""

from __future__ import annotations

import torch
from torch import nn

from aum.audio import FRAME_SHIFT_MS, fbank, normalize, pad_or_crop, windows
from aum.errors import ConfigError
from aum.models import AudioModel, from_pretrained
from aum.models.layers import pair

DEFAULT_HOP_MS = 50.0


class HearModel(nn.Module):
    """A trained model with the HEAR attributes: sample_rate, scene/timestamp_embedding_size (and hop_ms)."""

    def __init__(self, model: AudioModel, hop_ms: float = DEFAULT_HOP_MS, batch_size: int = 16):
        super().__init__()
        self.model = model.eval()
        self.frontend = model.frontend()
        self.sample_rate = int(self.frontend.sample_rate)
        self.scene_embedding_size = self.timestamp_embedding_size = int(model.config.embed_dim)
        self.hop_ms, self.batch_size = float(hop_ms), int(batch_size)

    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """(n, samples) -> normalised fbank (n, frames, bins), zero-padded up to the training length."""
        if audio.ndim != 2 or audio.shape[1] == 0:
            raise ConfigError(f"HEAR audio must be (n_sounds, samples) with samples > 0, got {tuple(audio.shape)}")
        fe = self.frontend
        fb = fbank(audio.to(self.device(), torch.float32), fe.sample_rate, fe.num_mel_bins)  # (n, frames, bins)
        if fb.shape[1] < fe.target_frames:
            fb = pad_or_crop(fb, fe.target_frames)
        return normalize(fb, fe.mean, fe.std)

    def column_times_ms(self, columns: int) -> torch.Tensor:
        """Centre of each patch column in ms (the native timestamp resolution)."""
        cfg = self.model.config
        stride, size = pair(cfg.patch_stride)[1], pair(cfg.patch_size)[1]  # the time axis of (frequency, time)
        return (torch.arange(columns) * stride + size / 2) * FRAME_SHIFT_MS


def load_model(model_file_path: str = "", hop_ms: float = DEFAULT_HOP_MS) -> HearModel:
    """The HEAR entry point: `model_file_path` is a checkpoint folder (or its model.safetensors) of ours."""
    if not model_file_path:
        raise ConfigError("aum.inference.hear.load_model needs a checkpoint folder (e.g. runs/demo/best): no "
                          "weights are downloaded, and none are built in")
    return HearModel(from_pretrained(model_file_path), hop_ms=hop_ms)


def _batches(audio: torch.Tensor, size: int):
    return audio.split(max(1, size))


@torch.no_grad()
def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """(n_sounds, samples) -> (n_sounds, scene_embedding_size) float32."""
    out = []
    for chunk in _batches(audio, model.batch_size):
        fb = model.features(chunk)  # (n, frames, bins)
        per_clip = [windows(clip, model.frontend.target_frames) for clip in fb]  # each (W, T, F), same W
        x = torch.cat(per_clip)  # (n * W, T, F)
        pooled = model.model.forward_head(model.model.forward_features(x), pre_logits=True)  # (n * W, D)
        out.append(pooled.view(len(per_clip), -1, pooled.shape[-1]).mean(dim=1))
    return torch.cat(out).float()


def _interpolate(columns: torch.Tensor, column_ms: torch.Tensor, times_ms: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of (n, C, D) column embeddings at column_ms (C,) onto times_ms (T,) -> (n, T, D)."""
    if columns.shape[1] == 1:
        return columns.expand(-1, len(times_ms), -1)
    step = column_ms[1] - column_ms[0]
    pos = ((times_ms - column_ms[0]) / step).clamp(0, columns.shape[1] - 1)
    lo = pos.floor().long().clamp(max=columns.shape[1] - 2)
    frac = (pos - lo).to(columns.dtype)[None, :, None]
    return columns[:, lo] * (1 - frac) + columns[:, lo + 1] * frac


@torch.no_grad()
def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_sounds, samples) -> embeddings (n, n_times, D) float32 and timestamps (n, n_times) in ms."""
    duration_ms = audio.shape[1] / model.sample_rate * 1000.0
    times = torch.arange(0.0, duration_ms + 1e-6, model.hop_ms)  # (n_times,)
    out = []
    for chunk in _batches(audio, model.batch_size):
        fb = model.features(chunk)
        net = model.model
        _, patches = net.split_tokens(net.forward_features(fb))  # (n, n_f * n_t, D), frequency-major
        n_f, n_t = net.patch_grid(fb.shape[1])
        columns = patches.view(len(chunk), n_f, n_t, -1).mean(dim=1).float()  # (n, n_t, D)
        out.append(_interpolate(columns, model.column_times_ms(n_t).to(columns.device), times.to(columns.device)))
    embeddings = torch.cat(out)
    return embeddings, times.to(embeddings.device).expand(len(embeddings), -1).contiguous()
