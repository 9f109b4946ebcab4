"""One-file checkpoints: model, optimizer, schedule, data order, random state and history.

Everything lives in a single safetensors file, so it is replaced atomically as a whole: the
arrays as tensors (``model.*`` and ``optim.<param>.<buffer>``) and everything else as JSON in the
header's metadata. Nothing is pickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..serialization import load, save


def save_checkpoint(
    path: Path, model_state: dict[str, Tensor], optimizer_state: dict[str, Any], extra: dict
) -> None:
    """Write a checkpoint atomically.

    Args:
        path: the file.
        model_state: ``model.state_dict()``.
        optimizer_state: ``optimizer.state_dict()`` (arrays in its per-parameter state).
        extra: JSON-able data (epoch, history, scheduler, loader and random states...).
    """
    tensors: dict[str, Any] = {f"model.{k}": v for k, v in model_state.items()}
    state_meta: dict[str, dict[str, Any]] = {}
    for idx, buffers in optimizer_state["state"].items():
        meta = state_meta[str(idx)] = {}
        for name, value in buffers.items():
            if isinstance(value, np.ndarray):
                tensors[f"optim.{idx}.{name}"] = value
            else:
                meta[name] = value
    header = {
        "extra": extra,
        "optimizer": {"param_groups": optimizer_state["param_groups"], "state": state_meta},
    }
    save(tensors, path, metadata={"chainrule.checkpoint": json.dumps(header, default=_plain)})


def load_checkpoint(path: Path) -> tuple[dict[str, Tensor], dict[str, Any], dict]:
    """Read a checkpoint: ``(model_state, optimizer_state, extra)``."""
    tensors, metadata = load(path, with_metadata=True)
    if "chainrule.checkpoint" not in metadata:
        raise ValueError(f"{str(path)!r} is a weight file, not a chainrule checkpoint")
    header = json.loads(metadata["chainrule.checkpoint"])
    model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    state: dict[int, dict[str, Any]] = {
        int(i): dict(meta) for i, meta in header["optimizer"]["state"].items()
    }
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v.numpy()
    optimizer_state = {"state": state, "param_groups": header["optimizer"]["param_groups"]}
    return model_state, optimizer_state, header["extra"]


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"checkpoint: cannot store {type(o).__name__} as JSON")
