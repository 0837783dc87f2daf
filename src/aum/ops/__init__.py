"""Selective-scan operators: the reference loop, fast paths, and the `selective_scan` dispatcher."""

from aum.ops.dispatch import available_backends, selective_scan
from aum.ops.scan_ref import selective_scan_ref

__all__ = ["selective_scan", "selective_scan_ref", "available_backends"]
