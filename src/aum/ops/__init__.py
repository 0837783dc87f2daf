"""Selective-scan operators: the reference loop, fast paths, and the `selective_scan` dispatcher."""

from aum.ops.dispatch import available_backends, backend_status, bidirectional_scan, selective_scan
from aum.ops.scan_cpu import bidirectional_scan_cpu, selective_scan_cpu
from aum.ops.scan_ref import bidirectional_scan_ref, selective_scan_ref

__all__ = [
    "available_backends",
    "backend_status",
    "bidirectional_scan",
    "bidirectional_scan_cpu",
    "bidirectional_scan_ref",
    "selective_scan",
    "selective_scan_cpu",
    "selective_scan_ref",
]
