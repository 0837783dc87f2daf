"""`selective_scan(..., backend="auto")`: picks a backend, logs the choice once, never falls back silently.

PLACEHOLDER owned by the ops work (issue 3): only the reference backend is wired so far.
"""

from __future__ import annotations

import logging

from aum.ops.scan_ref import selective_scan_ref

log = logging.getLogger(__name__)


def available_backends() -> list[str]:
    return ["ref"]


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   reverse=False, backend: str = "auto"):
    if backend not in ("auto", "ref"):
        raise RuntimeError(f"selective_scan backend {backend!r} is not available (have: {available_backends()})")
    return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, reverse)
