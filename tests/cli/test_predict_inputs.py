"""predict and evaluate on what a user may hand them: damaged or foreign weight files, arrays of
any header, images of any format, and the sample digits that ship with chainrule.

Every bad input must end in one line, ``chainrule COMMAND: error: ...`` naming the file, what was
expected and what was found, with exit status 2 and no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli
from chainrule.data.datasets.digits import SAMPLES, sample_images, sample_pixels
from chainrule.train import load_model, predict_scores

pytest.importorskip("safetensors")


def run_cli(argv: list) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-epoch digits run, made through the command."""
    out = tmp_path_factory.mktemp("predict") / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    return out


def assert_clear_error(capsys, command: str, *fragments: str) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith(f"chainrule {command}: error:"), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err}"
    assert captured.out == ""
    return err


# ----- weight files -----
def _model_file(run: Path) -> tuple[dict, dict]:
    state, meta = cr.load(run / "model.safetensors", with_metadata=True)
    return {k: v.numpy() for k, v in state.items()}, json.loads(meta["chainrule.model"])


def _write(run: Path, state: dict, described, raw_meta: str | None = None) -> None:
    meta = {"chainrule.model": raw_meta if raw_meta is not None else json.dumps(described)}
    cr.save(state, run / "model.safetensors", metadata=meta)


def as_i32(state, d):
    state["0.weight"] = state["0.weight"].view(np.int32)  # the same bytes, read as integers


def as_f64(state, d):
    state["2.bias"] = state["2.bias"].astype(np.float64)


def transposed(state, d):
    state["0.weight"] = np.ascontiguousarray(state["0.weight"].T)


def nan_weight(state, d):
    state["2.weight"][3, 4] = np.nan


def no_spec_model(state, d):
    del d["spec"]["model"]


def few_classes(state, d):
    d["spec"]["classes"] = d["spec"]["classes"][:3]


def huge_spec(state, d):
    d["spec"].update(in_features=10**9, image_shape=None)


def short_preprocess(state, d):
    d["preprocess"]["mean"] = d["preprocess"]["mean"][:10]


def text_preprocess(state, d):
    d["preprocess"]["std"] = ["1"] * len(d["preprocess"]["std"])


# (id, change of (state, description) or replacement of the metadata text, fragments expected)
WEIGHTS = [
    ("I32 weights", as_i32, ["'0.weight'", "float32 (F32)", "int32 (I32)"]),
    ("F64 bias", as_f64, ["'2.bias'", "float32 (F32)", "float64 (F64)"]),
    ("wrong shape", transposed, ["'0.weight'", "shape (100, 64)", "found (64, 100)"]),
    ("missing tensor", lambda s, d: s.pop("2.bias"), ["missing '2.bias'"]),
    ("extra tensor", lambda s, d: s.update(extra=np.ones(3, np.float32)), ["extra 'extra'"]),
    ("NaN weight", nan_weight, ["'2.weight'", "finite", "1 NaN"]),
    ("spec without model", no_spec_model, ["spec['model']", "linear, mlp", "nothing"]),
    ("too few classes", few_classes, ["one class name per class (10", "found 3"]),
    ("spec of 10^9 inputs", huge_spec, ["at least 100000001110 values", "file holds 7510"]),
    ("preprocess too short", short_preprocess, ["preprocess['mean']", "64 finite", "10 values"]),
    ("preprocess of strings", text_preprocess, ["preprocess['std']", "64 finite numbers"]),
    ("metadata a list", "[1, 2]", ["'spec' and 'preprocess'", "a JSON array"]),
    ("metadata not JSON", "{spec:", ["as JSON", "not"]),
    ("metadata of another program", None, ["'chainrule.model'", "'format'"]),
]


@pytest.fixture
def damaged(trained, tmp_path):
    def make(change) -> Path:
        run = tmp_path / "run"
        shutil.copytree(trained, run)
        state, described = _model_file(run)
        if change is None:
            cr.save(state, run / "model.safetensors", metadata={"format": "pt"})
        elif isinstance(change, str):
            _write(run, state, None, raw_meta=change)
        else:
            change(state, described)
            _write(run, state, described)
        return run

    return make


@pytest.mark.parametrize("change, fragments", [r[1:] for r in WEIGHTS], ids=[r[0] for r in WEIGHTS])
def test_damaged_weight_files_are_clear_errors(damaged, capsys, change, fragments):
    run = damaged(change)
    assert run_cli(["predict", run, "--samples"]) == 2
    assert_clear_error(capsys, "predict", "model.safetensors", "expected", *fragments)
    assert run_cli(["evaluate", run]) == 2
    assert_clear_error(capsys, "evaluate", "model.safetensors", *fragments)


def test_the_library_loader_refuses_the_damage_too(damaged):
    """I32 weights are refused by cr.train.load_model itself, not only by the commands."""
    run = damaged(as_i32)
    with pytest.raises(ValueError, match="I32"):
        load_model(run)


# ----- arrays -----
def npy_header(shape: tuple, descr: str = "<f4") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


BAD_ARRAYS = [
    ("huge.npy", npy_header((0, 2**62, 2**62)), "found shape (0, 4611686018427387904"),
    ("dims70.npy", npy_header((1,) * 70) + bytes(4), "found an array of 70 dimensions"),
    ("empty.npy", np.zeros((0, 8, 8), np.float32), "empty batch of shape (0, 8, 8)"),
    ("nan.npy", np.full((8, 8), np.nan, np.float32), "finite numbers; found 64 NaN"),
    ("inf.npy", np.where(np.eye(8) > 0, np.inf, 0).astype(np.float32), "found 8 NaN or infinite"),
    ("big.npy", np.full((2, 8, 8), 1e300), "found 128 NaN or infinite values (or beyond float32"),
]


@pytest.mark.parametrize("name, content, fragment", BAD_ARRAYS, ids=[r[0] for r in BAD_ARRAYS])
def test_arrays_predict_cannot_use(trained, tmp_path, capsys, name, content, fragment):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    assert run_cli(["predict", trained, path]) == 2
    assert_clear_error(capsys, "predict", name, "expected", fragment)


# ----- image formats -----
def test_only_png_and_jpeg_are_opened(trained, tmp_path, capsys, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    from PIL import EpsImagePlugin

    def never(*args, **kwargs):
        raise AssertionError("the EPS decoder ran (it runs Ghostscript where installed)")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "load", never)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", never, raising=False)
    grey = Image.fromarray(np.zeros((8, 8), np.uint8), "L")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n%%EOF\n"
    for name, write, found in [
        ("eps.png", lambda p: p.write_bytes(eps), "PostScript/EPS"),
        ("gif.png", lambda p: grey.save(p, format="GIF"), "GIF"),
        ("bmp.jpg", lambda p: grey.save(p, format="BMP"), "BMP"),
        ("tiff.png", lambda p: grey.save(p, format="TIFF"), "TIFF"),
        ("empty.png", lambda p: p.write_bytes(b""), "no known format"),
    ]:
        write(tmp_path / name)
        assert run_cli(["predict", trained, tmp_path / name]) == 2
        assert_clear_error(capsys, "predict", name, "expected a PNG or JPEG image", found)
    for name, fmt in [("jpeg.png", "JPEG"), ("png.jpg", "PNG")]:  # either format, any suffix
        grey.save(tmp_path / name, format=fmt)
        assert run_cli(["predict", trained, tmp_path / name]) == 0
    capsys.readouterr()


def test_pillow_is_asked_for_png_and_jpeg_only(monkeypatch, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from chainrule.cli import predict

    seen = []
    original = Image.open

    def spy(fp, mode="r", formats=None):
        seen.append(formats)
        return original(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(tmp_path / "x.png")
    assert predict.read_input(tmp_path / "x.png", (8, 8)).shape == (1, 8, 8)
    assert seen == [["PNG", "JPEG"]]


# ----- something to try predict on -----
def test_the_sample_digits_ship_with_the_package_and_hold_test_images():
    Image = pytest.importorskip("PIL.Image")
    pixels = sample_pixels()
    assert pixels.shape == (10, 8, 8) and pixels.dtype == np.uint8 and pixels.max() == 255
    for d, path in enumerate(sample_images()):
        assert path.parent == SAMPLES and path.name == f"digit-{d}.png"
        with Image.open(path) as im:
            assert im.format == "PNG" and im.mode == "L"
            np.testing.assert_array_equal(np.asarray(im), pixels[d])
    test = cr.data.datasets.digits().x_test  # the samples are test images, never trained on
    for d in range(10):
        assert np.any(np.all(np.abs(test - pixels[d] / 255) < 1 / 255, axis=(1, 2)))


def test_predict_samples(trained, capsys):
    assert run_cli(["predict", trained, "--samples", "--top", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(p) for p in sample_images()]
    model, prep, spec = load_model(trained)
    expected = predict_scores(model, prep(sample_pixels() / 255.0)).argmax(1)
    assert [line.split(": ")[1].split()[0] for line in lines] == [str(k) for k in expected]


def test_predict_needs_files_or_samples(trained, capsys):
    assert run_cli(["predict", trained]) == 2
    assert_clear_error(capsys, "predict", "FILE", "--samples")


def test_samples_are_refused_for_a_run_on_other_data(tmp_path, capsys):
    out = tmp_path / "spiral"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "--dataset", "spiral", "--epochs", "1", "--out", str(out)]) == 0
    assert run_cli(["predict", out, "--samples"]) == 2
    assert_clear_error(capsys, "predict", "8x8 digits", "spiral", "shape (2,)")


def test_the_help_says_where_the_samples_are(capsys):
    assert run_cli(["predict", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--samples" in out and str(SAMPLES) in out and "PNG or JPEG" in out
