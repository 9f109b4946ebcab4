"""One-file checkpoints: model, optimizer, schedule, data order, random state and history.

Everything lives in a single safetensors file, so it is replaced atomically as a whole: the
arrays as tensors (``model.*`` and ``optim.<param>.<buffer>``) and everything else as JSON in the
header's metadata. Nothing is pickled.

The JSON also holds a SHA-256 of itself and of every tensor (name, dtype, shape, bytes), so a
checkpoint changed after it was written (a flipped bit, an edited header) is refused by
``load_checkpoint`` with one clear error rather than resumed from. A checkpoint without one (an
older version's) is still read, and its structure checked.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import is_array, to_numpy
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
            if is_array(value):  # on any device: saved from the CPU, as save does
                tensors[f"optim.{idx}.{name}"] = to_numpy(value)
            else:
                meta[name] = value
    header = {
        "extra": extra,
        "optimizer": {"param_groups": optimizer_state["param_groups"], "state": state_meta},
    }
    # the JSON as load_checkpoint will see it (json.dumps of what json.loads gives is the same
    # text), then its digest, appended last so that removing it restores that text
    header = json.loads(json.dumps(header, default=_plain))
    header["sha256"] = _digest(json.dumps(header), tensors)
    save(tensors, path, metadata={"chainrule.checkpoint": json.dumps(header)})


def load_checkpoint(path: Path) -> tuple[dict[str, Tensor], dict[str, Any], dict]:
    """Read a checkpoint: ``(model_state, optimizer_state, extra)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, for anything but an intact checkpoint: not a safetensors
            file, a weight file without the checkpoint's description, content that does not
            match the SHA-256 saved with it, or a description of the wrong structure.
    """
    where = f"{str(path)!r}"
    tensors, metadata = load(path, map_location="cpu", with_metadata=True)
    if "chainrule.checkpoint" not in metadata:
        raise ValueError(f"{where} is a weight file, not a chainrule checkpoint")
    try:
        header = json.loads(metadata["chainrule.checkpoint"])
    except (ValueError, RecursionError) as e:
        raise ValueError(
            f"{where}: expected the checkpoint's description as JSON; found text that is not "
            f"({e}). The checkpoint is damaged: start the run again"
        ) from None
    if not isinstance(header, dict):
        raise _damaged(where, "the description to be a JSON object", f"a {type(header).__name__}")
    digest = header.pop("sha256", None)
    if digest is not None and digest != _digest(json.dumps(header), tensors):
        raise ValueError(
            f"{where}: the checkpoint was changed after it was written: its content does not "
            "match the SHA-256 saved with it (a damaged disk or an edited file). Resume from an "
            "intact copy, or start the run again"
        )
    return _unpack(header, tensors, where)


def _digest(text: str, tensors: dict[str, Any]) -> str:
    """SHA-256 of the JSON text and of every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(text.encode("utf-8"))
    for name in sorted(tensors):
        v = tensors[name]
        a = np.ascontiguousarray(to_numpy(v._data if isinstance(v, Tensor) else v))
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _damaged(where: str, expected: str, found: str) -> ValueError:
    return ValueError(
        f"{where}: expected {expected}; found {found}. The checkpoint is damaged or was not "
        "written by chainrule: start the run again"
    )


_OPTIM = re.compile(r"optim\.(\d+)\.(\w+)")


def _unpack(header: dict, tensors: dict[str, Tensor], where: str) -> tuple:
    """Check the structure ``fit`` writes and split the tensors into model and optimizer."""
    optimizer, extra = header.get("optimizer"), header.get("extra")
    if not isinstance(optimizer, dict) or not isinstance(extra, dict):
        raise _damaged(
            where, "a description with 'optimizer' and 'extra' objects", str(header)[:80]
        )
    groups, saved = optimizer.get("param_groups"), optimizer.get("state")
    if not (isinstance(groups, list) and groups and all(isinstance(g, dict) for g in groups)):
        raise _damaged(
            where, "the optimizer's parameter groups (a list of objects)", f"{groups!r:.80}"
        )
    if not (
        isinstance(saved, dict)
        and all(re.fullmatch(r"\d+", k) and isinstance(v, dict) for k, v in saved.items())
    ):
        raise _damaged(
            where, "the optimizer's state (an object per parameter index)", f"{saved!r:.80}"
        )
    state: dict[int, dict[str, Any]] = {int(i): dict(meta) for i, meta in saved.items()}
    model_state = {}
    for k, v in tensors.items():
        if k.startswith("model."):
            model_state[k[6:]] = v
        elif m := _OPTIM.fullmatch(k):
            state.setdefault(int(m[1]), {})[m[2]] = v.numpy()
        else:
            raise _damaged(where, "tensors named model.* or optim.<index>.<buffer>", repr(k))
    if not model_state:
        raise _damaged(where, "the model's tensors (model.*)", "none")
    _check_extra(extra, where)
    return model_state, {"state": state, "param_groups": groups}, extra


def _check_extra(extra: dict, where: str) -> None:
    """The parts of ``extra`` that ``fit`` writes: the loop's state, schedule, data order, RNG."""
    missing = [k for k in ("state", "scheduler", "loader", "rng") if k not in extra]
    if missing:
        raise _damaged(where, "the loop's state, schedule, data order and RNG", f"no {missing}")
    st = extra["state"]
    ints = ("epoch", "best_epoch", "bad_epochs")
    if not (
        isinstance(st, dict)
        and all(
            isinstance(st.get(k), int) and not isinstance(st[k], bool) and st[k] >= 0 for k in ints
        )
        and isinstance(st.get("history"), list)
        and all(isinstance(row, dict) for row in st["history"])
        and (st.get("best") is None or isinstance(st["best"], list))
    ):
        raise _damaged(
            where, "the loop's state (epoch, history, best, best_epoch, bad_epochs)", f"{st!r:.80}"
        )
    if extra["scheduler"] is not None and not isinstance(extra["scheduler"], dict):
        raise _damaged(
            where, "the schedule's state (an object or null)", f"{extra['scheduler']!r:.80}"
        )
    loader = extra["loader"]
    if not (isinstance(loader, dict) and isinstance(loader.get("epoch"), int)):
        raise _damaged(where, "the data order's state ({'epoch': k})", f"{loader!r:.80}")
    try:  # on a generator of the kind chainrule.random uses, not on the one in use
        np.random.default_rng().bit_generator.state = extra["rng"]
    except (TypeError, ValueError, KeyError) as e:
        raise _damaged(where, "the random generator's state", f"one NumPy refuses ({e})") from None


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"checkpoint: cannot store {type(o).__name__} as JSON")
