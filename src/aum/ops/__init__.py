"""Selective-scan operators: the reference loop, fast paths, and the `selective_scan` dispatcher."""

from aum.ops.conv_ref import causal_conv_ref
from aum.ops.dispatch import available_backends, backend_status, bidirectional_scan, resolve_backend, selective_scan
from aum.ops.scan_cpu import bidirectional_scan_cpu, selective_scan_cpu
from aum.ops.scan_ref import bidirectional_scan_ref, selective_scan_ref


def causal_conv_silu(x, weight, bias, anticausal=False, conv_state=None, return_conv_state=False):
    """silu of the depthwise (anti)causal conv1d, compiled (needs numba; see `aum.ops.conv_numba`)."""
    from aum.ops.conv_numba import causal_conv_silu as compiled  # numba is optional: imported when used

    return compiled(x, weight, bias, anticausal, conv_state, return_conv_state)


__all__ = [
    "available_backends",
    "backend_status",
    "bidirectional_scan",
    "bidirectional_scan_cpu",
    "bidirectional_scan_ref",
    "causal_conv_ref",
    "causal_conv_silu",
    "resolve_backend",
    "selective_scan",
    "selective_scan_cpu",
    "selective_scan_ref",
]
