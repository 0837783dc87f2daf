"""`selective_scan` / `bidirectional_scan` with `backend="auto"`: one choice, logged once, never a silent fallback.

Backends:
- "ref": the per-step loop (`scan_ref.py`), the readable twin of every other backend.
- "numba": the compiled CPU kernel (`scan_numba.py`), for CPU tensors, when numba is importable.
- "cpu": the chunked plain-torch path (`scan_cpu.py`); pure torch, so it also runs (slowly) on any device.
- "parallel": a log-depth prefix scan of plain tensor ops (`scan_parallel.py`), traceable by torch.export / ONNX.
- "loop": a lean per-step loop (`scan_loop.py`), traceable; the exported graph grows with the length.
- "triton": the Triton kernel (`triton_scan.py`), for CUDA tensors.
- "mamba_ssm": the official CUDA kernel, when `mamba_ssm.ops.selective_scan_interface` is importable.
"auto" picks "triton" for CUDA inputs when it is available, else "mamba_ssm", else "cpu" (with a warning);
"numba" for CPU inputs, else "cpu" (with a warning naming the reason, once). An explicitly requested backend
that is unavailable raises with the reason.
`selective_scan`'s state arguments (`initial_state`, `return_last_state`; see `selective_scan_ref`) reach every
backend; mamba_ssm's kernel returns its last state but takes no initial state: asking it for one is an error.
"""

from __future__ import annotations

import functools
import importlib
import logging

import torch

from aum.errors import ConfigError, UnavailableError
from aum.ops.scan_cpu import bidirectional_scan_cpu, selective_scan_cpu
from aum.ops.scan_loop import selective_scan_loop
from aum.ops.scan_parallel import selective_scan_parallel
from aum.ops.scan_ref import MERGES, bidirectional_by_two_scans, bidirectional_scan_ref, selective_scan_ref

log = logging.getLogger(__name__)

BACKENDS = ("ref", "cpu", "numba", "parallel", "loop", "triton", "mamba_ssm")
_MAMBA_SSM_MODULE = "mamba_ssm.ops.selective_scan_interface"
_logged_choices: set[tuple[str, str]] = set()


def _triton_status() -> tuple[bool, str]:
    try:
        triton_scan = importlib.import_module("aum.ops.triton_scan")
    except Exception as error:  # noqa: BLE001 - any import failure makes the backend unavailable, with the reason
        return False, f"aum.ops.triton_scan cannot be imported ({type(error).__name__}: {error})"
    return triton_scan.triton_available()


def _mamba_ssm_status() -> tuple[bool, str]:
    try:
        importlib.import_module(_MAMBA_SSM_MODULE)
    except Exception as error:  # noqa: BLE001
        return False, f"{_MAMBA_SSM_MODULE} is not importable ({type(error).__name__}: {error})"
    return True, ""


def _numba_status() -> tuple[bool, str]:
    return importlib.import_module("aum.ops.scan_numba").numba_status()


_ALWAYS = lambda: (True, "")  # noqa: E731 - plain torch backends
_PROBES = {"ref": _ALWAYS, "cpu": _ALWAYS, "numba": _numba_status, "parallel": _ALWAYS, "loop": _ALWAYS,
           "triton": _triton_status,
           "mamba_ssm": _mamba_ssm_status}


@functools.cache
def backend_status(name: str) -> tuple[bool, str]:
    """(available, reason if not) for one backend name; probed once per process."""
    if name not in _PROBES:
        raise ConfigError(f"unknown selective_scan backend {name!r}; choose from {('auto', *BACKENDS)}")
    return _PROBES[name]()


def available_backends() -> list[str]:
    """Backends usable in this process (the "triton" and "mamba_ssm" entries need their packages and a GPU)."""
    return [name for name in BACKENDS if backend_status(name)[0]]


@functools.cache
def _warn_once(message: str) -> None:
    log.warning(message)


def _auto_choice(device: torch.device) -> str:
    if device.type == "cpu":
        available, reason = backend_status("numba")
        if not available:
            _warn_once(f"the compiled CPU selective scan is unavailable ({reason}); using the chunked torch path")
        return "numba" if available else "cpu"
    if device.type != "cuda":
        return "cpu"
    for name in ("triton", "mamba_ssm"):
        if backend_status(name)[0]:
            return name
    reasons = "; ".join(f"{name}: {backend_status(name)[1]}" for name in ("triton", "mamba_ssm"))
    log.warning("no GPU selective-scan kernel is available (%s); using the chunked torch path", reasons)
    return "cpu"


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that runs for inputs on `device`; "auto" logs its choice once per (device type, backend)."""
    if backend != "auto":
        available, reason = backend_status(backend)
        if not available:
            raise UnavailableError(f"selective_scan backend {backend!r} is unavailable: {reason}")
        return backend
    choice = _auto_choice(device)
    if (device.type, choice) not in _logged_choices:
        _logged_choices.add((device.type, choice))
        log.info("selective_scan backend 'auto' uses %r for %s tensors", choice, device.type)
    return choice


def _mamba_ssm_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, reverse=False,
                    return_last_state=False):
    """mamba_ssm's kernel has no `reverse`: run it on the inputs flipped along L and flip the result back (its last
    state is then the one after t = 0, as `reverse` defines it)."""
    scan_fn = importlib.import_module(_MAMBA_SSM_MODULE).selective_scan_fn
    if reverse:
        u, delta, B, C, z = (None if x is None else x.flip(-1) for x in (u, delta, B, C, z))
    out = scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    if not reverse:
        return out
    return (out[0].flip(-1), out[1]) if return_last_state else out.flip(-1)


def _scan_function(name: str):
    if name == "triton":
        return importlib.import_module("aum.ops.triton_scan").selective_scan_triton
    if name == "numba":
        return importlib.import_module("aum.ops.scan_numba").selective_scan_numba
    return {"ref": selective_scan_ref, "cpu": selective_scan_cpu, "parallel": selective_scan_parallel,
            "loop": selective_scan_loop, "mamba_ssm": _mamba_ssm_scan}[name]


def _bidirectional_function(name: str):
    if name == "triton":
        return importlib.import_module("aum.ops.triton_scan").bidirectional_scan_triton
    if name in ("mamba_ssm", "parallel", "loop"):
        return functools.partial(bidirectional_by_two_scans, _scan_function(name))
    if name == "numba":
        return importlib.import_module("aum.ops.scan_numba").bidirectional_scan_numba
    return {"ref": bidirectional_scan_ref, "cpu": bidirectional_scan_cpu}[name]


def _check_shapes(u, delta, A, B, C, initial_state=None) -> None:
    batch, channels, length = u.shape
    state = A.shape[-1]
    expected = {"delta": (delta, (batch, channels, length)), "A": (A, (channels, state)),
                "B": (B, (batch, state, length)), "C": (C, (batch, state, length)),
                "initial_state": (initial_state, (batch, channels, state))}
    for name, (tensor, shape) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ConfigError(f"selective_scan: {name} has shape {tuple(tensor.shape)}, expected {shape} "
                             f"(u is (B, D, L) = {tuple(u.shape)}, A is (D, N))")


def _state_arguments(name: str, initial_state, return_last_state: bool) -> dict:
    """The state keywords for backend `name`, only those in use (a call without state stays the plain call)."""
    if initial_state is not None and name == "mamba_ssm":
        raise ConfigError("selective_scan: mamba_ssm's kernel takes no initial state; backends that do: "
                          + ", ".join(n for n in BACKENDS if n != "mamba_ssm"))
    arguments = {"initial_state": initial_state} if initial_state is not None else {}
    return {**arguments, "return_last_state": True} if return_last_state else arguments


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, reverse=False,
                   initial_state=None, return_last_state=False, backend: str = "auto"):
    """Mamba-1 selective scan (REFERENCE §8). u, delta, z: (B, D, L); A: (D, N); B, C: (B, N, L); D, delta_bias: (D,).

    Returns (B, D, L) in u's dtype (computed in fp32). `reverse=True` scans t = L-1 ... 0 (= flip, scan, flip).
    `initial_state` (B, D, N): the state before the first scanned step (None: zeros); `return_last_state=True`
    returns (y, the state after the last scanned step) - see `selective_scan_ref`."""
    _check_shapes(u, delta, A, B, C, initial_state)
    name = resolve_backend(backend, u.device)
    state = _state_arguments(name, initial_state, return_last_state)
    return _scan_function(name)(u, delta, A, B, C, D, z, delta_bias, delta_softplus, reverse, **state)


def bidirectional_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, *, A_b, u_b=None, delta_b=None,
                       B_b=None, C_b=None, D_b=None, delta_bias_b=None, delta_softplus=True, merge="sum",
                       backend: str = "auto"):
    """merge(scan(u, ..., z), scan(u_b, ..., z, reverse=True)); every `*_b` left None reuses the forward tensor.

    All inputs are in original time order. AuM Fo-Bi ("v1"): only A_b, merge "sum"; Bi-Bi ("v2"): every `*_b`,
    merge "mean"."""
    if merge not in MERGES:
        raise ConfigError(f"merge must be one of {MERGES}, got {merge!r}")
    _check_shapes(u, delta, A, B, C)
    scan = _bidirectional_function(resolve_backend(backend, u.device))
    return scan(u, delta, A, B, C, D, z, delta_bias, A_b=A_b, u_b=u_b, delta_b=delta_b, B_b=B_b, C_b=C_b, D_b=D_b,
                delta_bias_b=delta_bias_b, delta_softplus=delta_softplus, merge=merge)
