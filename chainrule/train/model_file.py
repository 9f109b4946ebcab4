"""A run's model file (model.safetensors), checked in full before a model is built from it.

The file holds the best model's weights and, in its metadata entry ``chainrule.model``, the JSON
that describes them: the spec (``model``, ``in_features``, ``hidden``, ``num_classes``,
``activation``, ``classes``, ``image_shape``, ``dataset``) and the preprocessing statistics
(``mean``, ``std``). ``read_model_file`` checks every part against the others: the spec's
types and values, the statistics' length, and every tensor's name, shape and dtype against the
model the spec describes (weights stored as I32 are not floats, whatever their bytes hold), and
that every weight is finite. It raises one ``ValueError`` naming the file, what was expected
and what was found; ``chainrule predict`` and ``chainrule evaluate`` read a run through it, so
a damaged or foreign file is a clear error rather than a traceback or garbage predictions.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..autograd.tensor import Tensor
from ..random import get_rng_state, set_rng_state
from ..serialization import load
from .config import ACTIVATIONS, FEATURES, MODELS, POOLS
from .models import build_model
from .run import RunFolder

# the names safetensors gives NumPy's dtypes, for messages
_SAFETENSORS_NAMES = {
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
    "int8": "I8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "uint8": "U8",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "bool": "BOOL",
}


class ModelFile(NamedTuple):
    """What a checked model file holds."""

    state: dict[str, Tensor]  # the weights, by the model's state-dict names
    spec: dict[str, Any]  # what build_model takes, with the class names and image shape
    preprocess: dict[str, list[float]]  # {"mean": [...], "std": [...]}, one per input feature


def read_model_file(path: str | os.PathLike) -> ModelFile:
    """Read a model file written by ``chainrule train`` and check every part of it.

    Args:
        path: a run's ``model.safetensors``.

    Returns:
        ``ModelFile(state, spec, preprocess)``, all consistent with one another.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a safetensors file, lacks or garbles the model description,
            or holds tensors that do not fit the model it describes (missing or extra names,
            other shapes, other dtypes, NaN or infinite values).

    Example:
        >>> spec = read_model_file("runs/digits-mlp-20250101-120000/model.safetensors").spec
        >>> spec["model"], spec["in_features"], spec["num_classes"]
        ('mlp', 64, 10)
    """
    path = Path(path)
    state, metadata = load(path, map_location="cpu", with_metadata=True)
    where = f"{str(path)!r}"
    text = metadata.get("chainrule.model")
    if text is None:
        raise ValueError(
            f"{where}: expected chainrule's model description (the metadata entry "
            f"'chainrule.model' that `chainrule train` writes); found "
            f"{', '.join(repr(k) for k in metadata) or 'no metadata'}"
        )
    try:
        described = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(
            f"{where}: expected the model description as JSON; found text that is not ({e})"
        ) from None
    if not isinstance(described, dict) or not {"spec", "preprocess"} <= set(described):
        found = sorted(described) if isinstance(described, dict) else _kind(described)
        raise ValueError(
            f"{where}: expected the model description to be a JSON object with 'spec' and "
            f"'preprocess'; found {found}"
        )
    spec = _check_spec(described["spec"], where)
    _check_size(state, spec, where)
    preprocess = _check_preprocess(described["preprocess"], spec["in_features"], where)
    _check_tensors(state, spec, where)
    return ModelFile(state, spec, preprocess)


def read_run_model(run: str | os.PathLike) -> ModelFile:
    """``read_model_file`` of a run folder's ``model.safetensors``, after checking the folder.

    Raises:
        FileNotFoundError: not a run folder, or no epoch has ended (no model file yet).
        ValueError: as ``read_model_file``.
    """
    folder = RunFolder(run)
    folder.require()
    if not folder.model.is_file():
        raise FileNotFoundError(
            f"{str(folder.path)!r} has no model.safetensors yet (no epoch ended)"
        )
    return read_model_file(folder.model)


def _kind(value: Any) -> str:
    return f"a JSON {'array' if isinstance(value, list) else type(value).__name__}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + " ..."


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_spec(spec: Any, where: str) -> dict[str, Any]:
    def bad(key: str, expected: str) -> ValueError:
        found = _show(spec[key]) if key in spec else "nothing"
        return ValueError(f"{where}: spec[{key!r}]: expected {expected}; found {found}")

    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected the spec to be a JSON object; found {_kind(spec)}")
    if spec.get("model") not in MODELS:
        raise bad("model", f"the model, one of {', '.join(MODELS)}")
    if not _is_int(spec.get("in_features"), 1):
        raise bad("in_features", "the number of input features, an integer >= 1")
    if not _is_int(spec.get("num_classes"), 2):
        raise bad("num_classes", "the number of classes, an integer >= 2")
    classes = spec.get("classes")
    if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise bad("classes", "the class names, a list of strings")
    if len(classes) != spec["num_classes"]:
        raise ValueError(
            f"{where}: expected one class name per class ({spec['num_classes']}, as "
            f"spec['num_classes'] says); found {len(classes)}"
        )
    features = spec.get("features", "pixels")
    if features not in FEATURES:
        raise bad("features", f"the features the model reads, one of {', '.join(FEATURES)}")
    shape = spec.get("image_shape")
    if shape is not None and not (
        isinstance(shape, list)
        and 1 <= len(shape) <= 3
        and all(_is_int(s, 1) for s in shape)
        # with hand-crafted features, in_features counts them, not the image's values
        and (features != "pixels" or math.prod(shape) == spec["in_features"])
    ):
        raise bad(
            "image_shape",
            f"null or the shape of one image (1 to 3 sizes) with {spec['in_features']} values "
            "(spec['in_features'])",
        )
    if features != "pixels" and (shape is None or spec["model"] == "convnet"):
        raise bad("features", "pixels: hand-crafted features are for image data and flat models")
    if not isinstance(spec.get("dataset"), str):
        raise bad("dataset", "the name of the data set, a string")
    if spec["model"] == "convnet":
        channels = spec.get("channels")
        if not (
            isinstance(channels, list)
            and 1 <= len(channels) <= 4
            and all(_is_int(c, 1) for c in channels)
        ):
            raise bad("channels", "the ConvNet's channel counts, 1 to 4 integers >= 1")
        if not (_is_int(spec.get("kernel_size"), 1) and spec["kernel_size"] <= 15):
            raise bad("kernel_size", "the ConvNet's filter size, an integer from 1 to 15")
        if spec.get("pool") not in POOLS:
            raise bad("pool", f"the ConvNet's pooling, one of {', '.join(POOLS)}")
        if shape is None or len(shape) == 1:
            raise bad("image_shape", "the shape of one image, (H, W) or (H, W, C), for a ConvNet")
    if spec["model"] in ("mlp", "convnet"):
        hidden = spec.get("hidden")
        if not (isinstance(hidden, list) and hidden and all(_is_int(h, 1) for h in hidden)):
            raise bad("hidden", "the hidden layers' widths, a non-empty list of integers >= 1")
        allowed = [a for a in ACTIVATIONS if spec["model"] == "mlp" or a != "maxout"]
        if spec.get("activation") not in allowed:
            raise bad("activation", f"one of {', '.join(allowed)}")
    return spec


def _check_preprocess(prep: Any, in_features: int, where: str) -> dict[str, list[float]]:
    if not isinstance(prep, dict):
        raise ValueError(
            f"{where}: expected the preprocessing statistics as a JSON object with 'mean' and "
            f"'std'; found {_kind(prep)}"
        )
    for key in ("mean", "std"):
        values = prep.get(key)
        if not (
            isinstance(values, list)
            and len(values) == in_features
            and all(type(v) in (int, float) and math.isfinite(v) for v in values)
        ):
            found = f"{len(values)} values" if isinstance(values, list) else _show(values)
            raise ValueError(
                f"{where}: preprocess[{key!r}]: expected {in_features} finite numbers, one per "
                f"input feature; found {found} (or some not finite numbers)"
            )
    if min(prep["std"]) <= 0:
        raise ValueError(
            f"{where}: preprocess['std']: expected standard deviations > 0; found "
            f"{min(prep['std'])}"
        )
    return prep


def _fewest_parameters(spec: dict[str, Any]) -> int:
    """How many values the spec's model holds at least (maxout layers hold more)."""
    widths = [spec["in_features"], *(spec["hidden"] if spec["model"] == "mlp" else ())]
    widths.append(spec["num_classes"])
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def _check_size(state: dict[str, Tensor], spec: dict[str, Any], where: str) -> None:
    """Before the spec's model is built to compare with: a spec can describe any size."""
    stored = sum(t.numel() for t in state.values())
    need = _fewest_parameters(spec)
    if need > 2 * stored + 1_000_000:  # a smaller model costs little: its tensors are compared
        raise ValueError(
            f"{where}: expected the weights of the spec's model, at least {need} values; the "
            f"file holds {stored}"
        )


def _check_tensors(state: dict[str, Tensor], spec: dict[str, Any], where: str) -> None:
    rng = get_rng_state()  # building draws initial weights: leave the caller's stream alone
    try:
        own = build_model(spec).state_dict()
    finally:
        set_rng_state(rng)
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise ValueError(
            f"{where}: expected the tensors of the spec's model ({', '.join(own)}); "
            + "; ".join(
                f"{what} {', '.join(repr(k) for k in keys)}"
                for what, keys in (("missing", missing), ("found extra", unexpected))
                if keys
            )
        )
    for name, target in own.items():
        t = state[name]
        if t.shape != target.shape:
            raise ValueError(
                f"{where}: tensor {name!r}: expected shape {tuple(target.shape)} (the spec's "
                f"model); found {tuple(t.shape)}"
            )
        if t.dtype != target.dtype:
            raise ValueError(
                f"{where}: tensor {name!r}: expected dtype {_st(target.dtype)} like the model's "
                f"weights; found {_st(t.dtype)}"
            )
        data = t._data
        if not np.isfinite(data).all():
            bad = int(data.size - np.count_nonzero(np.isfinite(data)))
            raise ValueError(
                f"{where}: tensor {name!r}: expected finite weights; found {bad} NaN or "
                f"infinite values of {data.size}"
            )


def _st(dtype: Any) -> str:
    name = np.dtype(dtype).name
    return f"{name} ({_SAFETENSORS_NAMES.get(name, name)})"
