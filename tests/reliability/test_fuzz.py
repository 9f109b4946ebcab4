"""Hostile files: every reader answers random and mutated input with its own documented error.

Each reader gets random bytes and mutations of a valid file (bytes flipped, cut, repeated,
header integers replaced). The only outcomes allowed are a successful read or the reader's own
error type; never another exception, a hang, or an allocation far beyond the file's size.
Examples per reader: 150 here; set CHAINRULE_FUZZ_EXAMPLES for more.
"""

import gzip
import io
import json
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.cli.predict import InputError, read_input
from chainrule.data import DataFormatError
from chainrule.data.datasets.cifar10 import read_batch
from chainrule.data.datasets.mnist import read_idx
from chainrule.train import TrainConfig
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.model_file import read_model_file

pytest.importorskip("safetensors")

EXAMPLES = int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def _idx_images() -> bytes:
    data = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    return struct.pack(">BBBBIII", 0, 0, 0x08, 3, 3, 4, 5) + data.tobytes()


def _cifar_batch() -> bytes:
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2], b"batch_label": b"x"}
    return pickle.dumps(batch, protocol=2)


def _weights() -> bytes:
    buf = io.BytesIO()
    import safetensors.numpy

    buf.write(safetensors.numpy.save({"w": np.ones((3, 2), np.float32)}))
    return buf.getvalue()


def _model_file() -> bytes:
    """A run's model.safetensors as `chainrule train` writes it: a linear model, 4 -> 3."""
    import safetensors.numpy

    spec = {"model": "linear", "in_features": 4, "num_classes": 3, "classes": ["a", "b", "c"]}
    spec.update(hidden=[5], activation="relu", image_shape=[2, 2], dataset="digits")
    prep = {"mean": [0.0, 0.5, 0.25, 1.0], "std": [1.0, 2.0, 0.5, 1.0]}
    weights = {"weight": np.ones((3, 4), np.float32), "bias": np.zeros(3, np.float32)}
    meta = {"chainrule.model": json.dumps({"spec": spec, "preprocess": prep})}
    return safetensors.numpy.save(weights, metadata=meta)


def _checkpoint() -> bytes:
    """A checkpoint as fit() writes it, of a linear model 4 -> 3 after one Adam step."""
    import tempfile
    from pathlib import Path

    from chainrule.random import get_rng_state
    from chainrule.train.checkpoint import save_checkpoint

    model = cr.nn.Linear(4, 3)
    opt = cr.optim.Adam(model.parameters())
    model(cr.ones(2, 4)).sum().backward()
    opt.step()
    extra = {
        "state": {"epoch": 1, "history": [{"epoch": 1, "val_acc": 0.5}], "best": [0.5, -1.0]},
        "scheduler": None,
        "loader": {"epoch": 1},
        "rng": get_rng_state(),
    }
    extra["state"].update(best_epoch=1, bad_epochs=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.safetensors"
        save_checkpoint(path, model.state_dict(), opt.state_dict(), extra)
        return path.read_bytes()


def _png() -> bytes:
    PIL = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    PIL.fromarray(np.zeros((8, 8), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((8, 8), np.float32))
    return buf.getvalue()


def _toml() -> bytes:
    return b'dataset = "digits"\nepochs = 3\nhidden = [100, 50]\nlr = 0.01\n'


def _json() -> bytes:
    return json.dumps({"dataset": "spiral", "epochs": 2}).encode()


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """Random bytes, or a valid file with a few bytes flipped, cut, repeated or replaced."""
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.binary(max_size=300))
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "repeat", "int", "insert"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[i:]
        elif kind == "repeat":
            data[i:i] = data[i : i + draw(st.integers(1, 64))] * draw(st.integers(1, 8))
        elif kind == "int":  # a header field replaced by a large or odd value
            value = draw(st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32 - 1, 255, 3072]))
            data[i : i + 4] = struct.pack(">I", value)
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


_WARMED: set[str] = set()


def _check(counts, name: str, read, path, blob: bytes, allowed: tuple) -> None:
    path.write_bytes(blob)
    if name not in _WARMED:  # the first read in a process imports what the reader needs
        _WARMED.add(name)  # lazily (tomllib, a device's backend): not the file's allocations
        try:
            read(path)
        except allowed:
            pass
    tracemalloc.start()
    outcome = "read"
    try:
        read(path)
    except allowed:
        outcome = "refused with its own error"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # a reader may decode what the file holds, but never allocates far beyond its size
    assert peak <= 64 * len(blob) + 4_000_000, f"{peak} bytes allocated for a {len(blob)}-byte file"
    counts[f"fuzz|{name}|{outcome}"] += 1


@FUZZ
@given(blob=mutated(_idx_images()), compress=st.booleans())
def test_idx_reader(tmp_path, counts, blob, compress):
    data = gzip.compress(blob) if compress else blob
    _check(
        counts, "IDX images (MNIST)", read_idx, tmp_path / "x-idx3-ubyte", data, (DataFormatError,)
    )


@FUZZ
@given(blob=mutated(_cifar_batch()))
def test_cifar_batch_reader(tmp_path, counts, blob):
    _check(
        counts,
        "CIFAR-10 batch (pickle)",
        read_batch,
        tmp_path / "data_batch_1",
        blob,
        (DataFormatError,),
    )


@FUZZ
@given(blob=mutated(_weights()))
def test_weight_file_reader(tmp_path, counts, blob):
    _check(
        counts,
        "weight file (safetensors)",
        cr.load,
        tmp_path / "w.safetensors",
        blob,
        (ValueError,),
    )


def test_the_valid_model_file_and_checkpoint_read(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(_model_file())
    assert read_model_file(tmp_path / "model.safetensors").spec["num_classes"] == 3
    (tmp_path / "checkpoint.safetensors").write_bytes(_checkpoint())
    model_state, _, extra = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert set(model_state) == {"weight", "bias"} and extra["state"]["epoch"] == 1


@FUZZ
@given(blob=mutated(_model_file()))
def test_model_file_reader(tmp_path, counts, blob):
    _check(
        counts,
        "model file (predict, evaluate)",
        read_model_file,
        tmp_path / "model.safetensors",
        blob,
        (ValueError,),
    )


@FUZZ
@given(blob=mutated(_checkpoint()))
def test_checkpoint_reader(tmp_path, counts, blob):
    _check(
        counts,
        "checkpoint (train --resume)",
        load_checkpoint,
        tmp_path / "checkpoint.safetensors",
        blob,
        (ValueError,),
    )


@FUZZ
@given(blob=mutated(_npy()))
def test_predict_npy_reader(tmp_path, counts, blob):
    _check(
        counts,
        "predict: .npy",
        lambda p: read_input(p, (8, 8)),
        tmp_path / "x.npy",
        blob,
        (InputError,),
    )


@FUZZ
@given(blob=mutated(_png()))
def test_predict_image_reader(tmp_path, counts, blob):
    _check(
        counts,
        "predict: PNG image",
        lambda p: read_input(p, (8, 8)),
        tmp_path / "x.png",
        blob,
        (InputError,),
    )


@FUZZ
@given(blob=mutated(_toml()), suffix=st.sampled_from([".toml", ".json"]))
def test_config_reader(tmp_path, counts, blob, suffix):
    if suffix == ".json":
        blob = blob if blob[:1] != b"d" else _json()

    def read(path):
        TrainConfig.from_dict(TrainConfig.from_file(path), "config").validate()

    _check(
        counts,
        "config file (TOML/JSON)",
        read,
        tmp_path / f"run{suffix}",
        blob,
        (ValueError, TypeError),
    )


def test_header_declaring_2_31_images_is_refused_before_allocating(tmp_path):
    path = tmp_path / "big-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBBIII", 0, 0, 0x08, 3, 2**31 - 1, 28, 28) + bytes(72))
    tracemalloc.start()
    with pytest.raises(DataFormatError, match="big-idx3-ubyte"):
        read_idx(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000
