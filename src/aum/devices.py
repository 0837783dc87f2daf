"""`resolve_device("auto" | "cpu" | "cuda" | "cuda:N")`: a torch.device, or UnavailableError saying why not."""

from __future__ import annotations

import torch

from aum.errors import ConfigError, UnavailableError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"device {name!r}: choose auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UnavailableError(f"device {name!r}: CUDA is not available here (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UnavailableError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type != "cpu":
        raise ConfigError(f"device {name!r}: choose auto, cpu, cuda or cuda:N")
    return device
