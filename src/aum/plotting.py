"""matplotlib for the PNGs the library writes (training curves, timelines, benchmark plots), with the Agg backend:
no display needed. Imported only when a picture is drawn, since matplotlib takes about a second to import."""

from __future__ import annotations

from types import ModuleType


def pyplot() -> ModuleType:
    """`matplotlib.pyplot`, on the Agg backend."""
    import matplotlib  # heavy: imported on the first picture only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
