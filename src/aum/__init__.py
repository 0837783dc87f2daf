"""aum: Audio Mamba (AuM) and SSAMBA, attention-free audio models, with AST/SSAST baselines.

The public API is imported lazily so that `import aum` stays cheap (the CLI starts fast).
"""

from __future__ import annotations

import importlib
import logging

__version__ = "0.1.0"

logging.getLogger("aum").addHandler(logging.NullHandler())

# public name -> module that defines it
_EXPORTS = {
    "load_audio": "aum.audio",
    "fbank": "aum.audio",
    "create_model": "aum.models",
    "list_models": "aum.models",
    "from_pretrained": "aum.models",
    "save_pretrained": "aum.models",
    "selective_scan": "aum.ops",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'aum' has no attribute {name!r}")
