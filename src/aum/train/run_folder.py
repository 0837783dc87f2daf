"""Checkpoints written atomically: a checkpoint is a directory swapped into place in one rename.

    <run>/best/  model.safetensors + config.json (aum.models.save_pretrained, meta: labels/frontend/task)
                 train_config.yaml (the resolved training config)
    <run>/last/  the same + trainer_state.pt (optimizer, schedule, step/epoch, batches done in the epoch,
                 RNG states of torch/numpy/python, EMA weights, best metric)

A directory is written as `<name>.tmp`, then the old one is moved to `<name>.old`, the new one renamed into
place and the old one removed; `resolve_checkpoint` finds `<name>.old` if a kill landed between the renames.
A failed write (a full disk, ...) removes `<name>.tmp`, leaves the previous `<name>/` as it was and raises a
one-line `CheckpointError` naming the folder and the cause ("no space left on device").
`trainer_state.pt` holds only tensors and plain Python values and is read with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError

from aum.errors import CheckpointError
from aum.fileinfo import os_error_reason
from aum.tensor_files import load_weights, read_torch_file

log = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.pt"
TRAIN_CONFIG = "train_config.yaml"
WRITE_ERRORS = (OSError, RuntimeError, SafetensorError)  # torch.save reports a failed write as RuntimeError
LOW_SPACE_BYTES = 16 * 2**20


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_checkpoint_dir(final: Path, fill) -> Path:
    """Create `final` atomically: `fill(tmp_dir)` writes the files, then the directory is swapped in."""
    final = Path(final)
    tmp, old = final.with_name(final.name + ".tmp"), final.with_name(final.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        fill(tmp)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(tmp)
    except WRITE_ERRORS as e:  # e.g. a full disk: the previous checkpoint at `final` is left as it was
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_failure(final, e) from None
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except OSError as e:
        if old.exists() and not final.exists():
            os.replace(old, final)
        raise write_failure(final, e) from None
    _fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)
    return final


def write_failure(final: Path, error: BaseException) -> CheckpointError:
    """A one-line error for a failed checkpoint write ("no space left on device", ...); a full disk is named even
    when a library hid the errno."""
    result = CheckpointError(final, f"could not write the checkpoint: {os_error_reason(error)}")
    try:
        free = shutil.disk_usage(final.parent).free
    except OSError:
        return result
    if free < LOW_SPACE_BYTES and "no space" not in result.cause:
        result = CheckpointError(final, f"could not write the checkpoint: no space left on device ({free} bytes "
                                 f"free; {result.cause.removeprefix('could not write the checkpoint: ')})")
    return result


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint directory to read: `path`, or `path.old` left by an interrupted swap."""
    path = Path(path)
    if path.is_dir():
        return path
    old = path.with_name(path.name + ".old")
    if old.is_dir():
        log.warning("%s: missing, using %s left by an interrupted save", path, old)
        return old
    raise FileNotFoundError(f"{path}: no checkpoint directory here")


def load_model_weights(model: torch.nn.Module, directory: Path) -> None:
    """Load `model.safetensors` from a checkpoint directory into an existing model (strict)."""
    load_weights(model, Path(directory) / "model.safetensors")


# ----------------------------------------------------------------------------------------------- RNG state
def capture_rng_state() -> dict:
    np_state = np.random.get_state()  # noqa: NPY002  (the legacy global RNG is what libraries draw from)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": _python_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np_state = (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    np.random.set_state(np_state)  # noqa: NPY002
    random.setstate(_python_state_from_plain(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state_to_plain(state: tuple) -> dict:
    version, internal, gauss = state
    return {"version": version, "internal": list(internal), "gauss": gauss}


def _python_state_from_plain(plain: dict) -> tuple:
    return plain["version"], tuple(plain["internal"]), plain["gauss"]


def save_trainer_state(state: dict, directory: Path) -> None:
    torch.save(state, Path(directory) / TRAINER_STATE)


def load_trainer_state(directory: Path) -> dict:
    path = Path(directory) / TRAINER_STATE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no trainer state; only a 'last' checkpoint can be resumed")

    state = read_torch_file(path)
    if not isinstance(state, dict) or not {"epoch", "step", "optimizer"} <= set(state):
        raise CheckpointError(path, "not a trainer state (no epoch / step / optimizer entries)")
    return state
