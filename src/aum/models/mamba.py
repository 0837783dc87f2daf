"""Mamba mixer with the three AuM directions: "v1" (Fo-Bi), "v2" (Bi-Bi, Vim's bimamba v2) and "none" (Fo-Fo).

Parameter names follow mamba_ssm / Vim (`in_proj`, `conv1d`, `x_proj`, `dt_proj`, `A_log`, `D`, `out_proj`, and the
backward `A_b_log`, `conv1d_b`, `x_proj_b`, `dt_proj_b`, `D_b`) so official checkpoints load key for key.
The backward direction never flips tensors: it runs the scan with `reverse=True` on inputs kept in original order.
A forward-only mixer ("none") can also run chunk by chunk, carrying its conv and scan state (`forward_with_state`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

import aum.ops as ops
from aum.errors import ConfigError
from aum.ops.conv_ref import with_conv_state

MIXER_TYPES = ("v1", "v2", "none")


def _depthwise_conv(x_padded: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Valid depthwise conv1d of (B, E, L + K - 1) with weight (E, 1, K) -> (B, E, L).

    On CPU a K-term shift-and-multiply-add: oneDNN's grouped conv1d is ~100x slower for these shapes (measured).
    """
    if x_padded.device.type != "cpu":
        return F.conv1d(x_padded, weight, bias, groups=x_padded.shape[1])
    k = weight.shape[-1]
    length = x_padded.shape[-1] - k + 1
    w = weight[:, 0, :, None]  # (E, K, 1)
    out = x_padded[..., 0:length] * w[:, 0] if bias is None else torch.addcmul(bias[:, None], w[:, 0],
                                                                                x_padded[..., 0:length])
    for i in range(1, k):
        out = torch.addcmul(out, w[:, i], x_padded[..., i:i + length])  # (B, E, L)
    return out


def _weight_matmul(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """weight (O, I) @ x (B, I, L) -> (B, O, L). As a (1, O, I) batch: torch.matmul of a 2-D parameter that requires
    grad with a 3-D operand takes a slow unfolded path on CPU (4x slower at 8192 tokens, measured), even under
    inference_mode."""
    return torch.matmul(weight.unsqueeze(0), x)


def causal_conv(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """Depthwise causal conv: out[t] sees x[t-K+1 .. t].  x (B, E, L) -> (B, E, L)."""
    return _depthwise_conv(F.pad(x, (conv.kernel_size[0] - 1, 0)), conv.weight, conv.bias)


def anticausal_conv(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """Causal conv on the flipped sequence, flipped back: out[t] sees x[t .. t+K-1] with the kernel reversed."""
    return _depthwise_conv(F.pad(x, (0, conv.kernel_size[0] - 1)), conv.weight.flip(-1), conv.bias)


def _init_dt_proj(dt_proj: nn.Linear, dt_rank: int, dt_min: float = 1e-3, dt_max: float = 0.1,
                  floor: float = 1e-4) -> None:
    """mamba_ssm init: weight ~ U(+-dt_rank^-0.5); bias = softplus^-1(dt), dt log-uniform in [dt_min, dt_max]."""
    bound = dt_rank ** -0.5
    nn.init.uniform_(dt_proj.weight, -bound, bound)
    dt = torch.rand(dt_proj.out_features, device=dt_proj.bias.device)
    dt = torch.exp(dt * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=floor)
    with torch.no_grad():
        dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus


def _mark(param: torch.Tensor, flag: str) -> None:
    """Set a mamba_ssm parameter flag (`_no_weight_decay`, `_no_reinit`) read by the optimizer and the init."""
    setattr(param, flag, True)


def _s4d_real(d_inner: int, d_state: int) -> nn.Parameter:
    """A_log = log(1..N) for every channel (A = -exp(A_log)), kept in fp32."""
    a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)  # (E, N)
    return nn.Parameter(torch.log(a))


@dataclass
class MixerState:
    """What a forward-only mixer carries from one chunk to the next."""

    conv: torch.Tensor  # (B, E, K-1): the last K-1 inputs of the causal conv
    ssm: torch.Tensor  # (B, E, N) fp32: the scan state after the chunk


class MambaMixer(nn.Module):
    """Selective-SSM mixer (B, L, D) -> (B, L, D) with an optional backward direction."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, mixer_type: str = "v1",
                 divide_out: bool = True, scan_backend: str = "auto"):
        super().__init__()
        if mixer_type not in MIXER_TYPES:
            raise ConfigError(f"mixer type must be one of {MIXER_TYPES}, got {mixer_type!r}")
        self.mixer_type, self.divide_out, self.scan_backend = mixer_type, divide_out, scan_backend
        self.d_inner, self.d_state = expand * d_model, d_state
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d, self.x_proj, self.dt_proj = self._branch(d_conv)
        self.A_log = _s4d_real(self.d_inner, d_state)
        self.D = nn.Parameter(torch.ones(self.d_inner))
        if mixer_type != "none":
            self.A_b_log = _s4d_real(self.d_inner, d_state)
        if mixer_type == "v2":
            self.conv1d_b, self.x_proj_b, self.dt_proj_b = self._branch(d_conv)
            self.D_b = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        for p in (self.A_log, self.D, getattr(self, "A_b_log", None), getattr(self, "D_b", None)):
            if p is not None:
                _mark(p, "_no_weight_decay")

    def _branch(self, d_conv: int) -> tuple[nn.Conv1d, nn.Linear, nn.Linear]:
        conv = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * self.d_state, bias=False)
        dt_proj = nn.Linear(self.dt_rank, self.d_inner)
        _init_dt_proj(dt_proj, self.dt_rank)
        _mark(dt_proj.bias, "_no_reinit")
        return conv, x_proj, dt_proj

    def _ssm_inputs(self, u: torch.Tensor, x_proj: nn.Linear,
                    dt_proj: nn.Linear) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """u (B, E, L) -> delta (B, E, L) without bias, B and C (B, N, L); computed in (channels, L) layout."""
        x_dbl = _weight_matmul(x_proj.weight, u)  # (B, R + 2N, L)
        dt, b, c = x_dbl.split([self.dt_rank, self.d_state, self.d_state], dim=1)
        return _weight_matmul(dt_proj.weight, dt), b, c  # (B, E, L), (B, N, L), (B, N, L)

    @staticmethod
    def _compiled_conv(x: torch.Tensor, conv: nn.Conv1d, compiled: bool) -> bool:
        """The compiled conv (no autograd) serves when the scan is compiled and no gradient is needed."""
        return compiled and not (torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad))

    def _conv_silu(self, x: torch.Tensor, conv: nn.Conv1d, anticausal: bool, compiled: bool) -> torch.Tensor:
        """silu((anti)causal depthwise conv of x); the compiled kernel when no gradient is needed."""
        if self._compiled_conv(x, conv, compiled):
            return ops.causal_conv_silu(x, conv.weight, conv.bias, anticausal=anticausal)
        return F.silu(anticausal_conv(x, conv) if anticausal else causal_conv(x, conv))

    def _compiled(self, hidden: torch.Tensor) -> bool:
        return hidden.device.type == "cpu" and ops.resolve_backend(self.scan_backend, hidden.device) == "numba"

    def forward_with_state(self, hidden: torch.Tensor,
                           state: MixerState | None = None) -> tuple[torch.Tensor, MixerState]:
        """A forward-only mixer (mixer_type "none") over one chunk (B, L, D) from `state` (None: the sequence's
        start) -> (out (B, L, D), the state after the chunk). Chunks fed one after the other, each from the state
        the previous one returned, give the output of one `forward` over the whole sequence, gradients included."""
        if self.mixer_type != "none":
            raise ConfigError(f"forward_with_state: a {self.mixer_type!r} mixer also reads the sequence backwards, "
                              "so no state carries it from chunk to chunk; use mixer_type 'none' (forward only)")
        x, z = _weight_matmul(self.in_proj.weight, hidden.transpose(1, 2)).chunk(2, dim=1)  # (B, E, L) each
        conv_state = None if state is None else state.conv
        if self._compiled_conv(x, self.conv1d, self._compiled(hidden)):
            u, conv_state = ops.causal_conv_silu(x, self.conv1d.weight, self.conv1d.bias, conv_state=conv_state,
                                                 return_conv_state=True)
        else:
            padded = with_conv_state(x, conv_state, self.conv1d.kernel_size[0])  # (B, E, K-1 + L)
            u = F.silu(_depthwise_conv(padded, self.conv1d.weight, self.conv1d.bias))
            conv_state = padded[..., x.shape[-1]:]
        delta, b, c = self._ssm_inputs(u, self.x_proj, self.dt_proj)
        y, ssm = ops.selective_scan(u, delta, -torch.exp(self.A_log.float()), b, c, self.D.float(), z,
                                    self.dt_proj.bias.float(), delta_softplus=True,
                                    initial_state=None if state is None else state.ssm, return_last_state=True,
                                    backend=self.scan_backend)
        return self.out_proj(y.transpose(1, 2)), MixerState(conv_state, ssm)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        xz = _weight_matmul(self.in_proj.weight, hidden.transpose(1, 2))  # (B, 2E, L): x, z need no transposed copy
        x, z = xz.chunk(2, dim=1)  # (B, E, L) each
        compiled = self._compiled(hidden)
        u = self._conv_silu(x, self.conv1d, False, compiled)  # (B, E, L)
        delta, b, c = self._ssm_inputs(u, self.x_proj, self.dt_proj)
        A = -torch.exp(self.A_log.float())  # (E, N)
        common = (u, delta, A, b, c, self.D.float(), z, self.dt_proj.bias.float())
        if self.mixer_type == "none":
            y = ops.selective_scan(*common, delta_softplus=True, backend=self.scan_backend)
        elif self.mixer_type == "v1":  # Fo-Bi: same conv / delta / B / C / D / z, own A, summed
            y = ops.bidirectional_scan(*common, A_b=-torch.exp(self.A_b_log.float()), delta_softplus=True,
                                       merge="sum", backend=self.scan_backend)
        else:  # Bi-Bi: own anti-causal conv and projections on the same x, z; averaged (Vim if_devide_out)
            u_b = self._conv_silu(x, self.conv1d_b, True, compiled)  # (B, E, L)
            delta_b, b_b, c_b = self._ssm_inputs(u_b, self.x_proj_b, self.dt_proj_b)
            y = ops.bidirectional_scan(*common, A_b=-torch.exp(self.A_b_log.float()), u_b=u_b, delta_b=delta_b,
                                       B_b=b_b, C_b=c_b, D_b=self.D_b.float(), delta_bias_b=self.dt_proj_b.bias.float(),
                                       delta_softplus=True, merge="mean" if self.divide_out else "sum",
                                       backend=self.scan_backend)
        return self.out_proj(y.transpose(1, 2))  # (B, L, D)
