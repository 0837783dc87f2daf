"""Read checkpoint files (`model.safetensors`, `config.json`, `trainer_state.pt`, official `.pth`) with one-line
errors.

Every loader (`from_pretrained`, `aum predict` / `eval`, `--resume`, official weights) reads through here, so a
truncated, empty, random or foreign file, a symlink loop, a FIFO or an unreadable file always gives
`CheckpointError("<path>: <cause>")`. Torch files are read with `weights_only=True` only: a pickle that would run
code is refused as such, and the message never suggests switching the guard off.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file

from aum.errors import CheckpointError, CheckpointMismatch
from aum.fileinfo import file_problem, os_error_reason

PICKLED_CODE = "refused: not a plain state dict (pickled code)"
_ZIP_MAGIC, _PICKLE_MAGIC = b"PK", b"\x80"
MAX_HEADER = 100_000_000  # the safetensors format's own limit on the JSON header


def check_file(path: str | os.PathLike) -> Path:
    """`path` as a Path when it is a readable, non-empty regular file; else FileNotFoundError (missing) or
    CheckpointError naming the problem."""
    path = Path(path)
    problem = file_problem(path)
    if problem == "file not found":
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if problem:
        raise CheckpointError(path, problem)
    return path


def _head(path: Path, size: int = 8) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as e:
        raise CheckpointError(path, os_error_reason(e)) from None


def _check_safetensors_layout(path: Path) -> None:
    """A file shorter than its own header says is "truncated" (safetensors' own words vary with where it was cut);
    a header that is no JSON is "not a safetensors file"."""
    size = path.stat().st_size
    head = _head(path, 8)
    header_len = int.from_bytes(head, "little") if len(head) == 8 else -1
    if header_len < 2 or header_len > MAX_HEADER:
        return  # not a safetensors layout at all: load_file names it
    if 8 + header_len > size:
        raise CheckpointError(path, f"truncated safetensors file (its header needs {8 + header_len} bytes, the file "
                              f"has {size})")
    try:
        with open(path, "rb") as f:
            f.seek(8)
            header = json.loads(f.read(header_len))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise CheckpointError(path, "not a safetensors file (its header is not a tensor table)") from None
    except OSError as e:
        raise CheckpointError(path, os_error_reason(e)) from None
    if 8 + header_len + end > size:
        raise CheckpointError(path, f"truncated safetensors file ({size} bytes, its header describes "
                              f"{8 + header_len + end})")


def read_safetensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a `.safetensors` file (CPU)."""
    path = check_file(path)
    _check_safetensors_layout(path)
    try:
        return load_file(str(path))
    except OSError as e:
        raise CheckpointError(path, os_error_reason(e)) from None
    except Exception as e:  # SafetensorError derives from Exception only
        detail = " ".join(str(e).split())
        if "incomplete" in detail or "not fully covered" in detail or "too small" in detail:
            raise CheckpointError(path, f"truncated safetensors file ({detail})") from None
        raise CheckpointError(path, f"not a safetensors file ({detail})") from None


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load a `.safetensors` file into `model` strictly; weights that do not fit raise CheckpointMismatch."""
    state = read_safetensors(path)
    own = model.state_dict()
    problems = {"missing": sorted(set(own) - set(state)), "unexpected": sorted(set(state) - set(own)),
                "reshaped": sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)}
    if any(problems.values()):
        summary = ", ".join(f"{len(keys)} {kind} (e.g. {keys[0]})" for kind, keys in problems.items() if keys)
        raise CheckpointMismatch(f"{path}: the weights do not fit the model: {summary}")
    model.load_state_dict(state, strict=True)


def read_json_file(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict:
    """A JSON object from `path`, with the keys in `required`."""
    path = check_file(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CheckpointError(path, os_error_reason(e)) from None
    except UnicodeDecodeError:
        raise CheckpointError(path, "not a text file (not UTF-8)") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(path, f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a JSON object, got {type(data).__name__}")
    missing = [key for key in required if key not in data]
    if missing:
        raise CheckpointError(path, f"missing key(s) {missing}")
    return data


def read_torch_file(path: str | os.PathLike):
    """`torch.load(path, weights_only=True)` on the CPU, with its failures as one-line CheckpointErrors."""
    path = check_file(path)
    head = _head(path)
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC)):
        raise CheckpointError(path, "not a PyTorch checkpoint (unknown file format)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e).lower()
        if "global" in text:  # a GLOBAL opcode: the pickle would import and call something
            raise CheckpointError(path, PICKLED_CODE) from None
        raise CheckpointError(path, "refused: not a plain state dict (unreadable pickle)") from None
    except OSError as e:
        raise CheckpointError(path, os_error_reason(e)) from None
    except (RuntimeError, EOFError, ValueError) as e:
        detail = " ".join(str(e).split()).split(". ")[0]
        raise CheckpointError(path, f"truncated or corrupt PyTorch file ({detail})") from None
