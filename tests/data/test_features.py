"""Hand-crafted features (``cr.data.features``): HOG as scikit-image computes it, colour
histograms by hand-checkable counts, and the cache that keeps a second run from recomputing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from chainrule.data import features as feat

skimage = pytest.importorskip("skimage")


def test_hog_is_scikit_images_with_cells_of_a_quarter_side() -> None:
    from skimage.feature import hog

    rng = np.random.default_rng(0)
    grey = rng.random((3, 28, 28)).astype(np.float32)
    expected = hog(grey[1], 9, (7, 7), (2, 2), block_norm="L2-Hys", feature_vector=True)
    out = feat.hog(grey)
    assert out.shape == (3, 324) and out.dtype == np.float32
    np.testing.assert_allclose(out[1], expected, rtol=1e-6)
    colour = rng.random((2, 32, 32, 3)).astype(np.float32)
    assert feat.hog(colour).shape == (2, 324)
    assert feat.hog(rng.random((2, 8, 8))).shape == (2, 324)  # the digits: cells of 2 pixels


def test_color_histograms_count_hue_saturation_or_intensity() -> None:
    red = np.zeros((1, 4, 4, 3), np.float32)
    red[..., 0] = 1.0  # hue 0, saturation 1: the last saturation bin of hue bin 0
    h = feat.color_histogram(red)
    assert h.shape == (1, feat.HUE_BINS * feat.SATURATION_BINS)
    assert h[0, feat.SATURATION_BINS - 1] == 1.0 and h.sum() == 1.0
    grey = np.zeros((2, 4, 4), np.float32)
    grey[0, :2] = 1.0  # half white, half black
    g = feat.color_histogram(grey)
    assert g.shape == (2, feat.GREY_BINS)
    np.testing.assert_allclose(g[0, [0, -1]], [0.5, 0.5])
    np.testing.assert_allclose(g[1, 0], 1.0)


def test_extract_each_kind() -> None:
    x = np.random.default_rng(1).random((4, 8, 8)).astype(np.float32)
    assert feat.extract(x, "pixels").shape == (4, 64)
    assert feat.extract(x, "hog").shape == (4, 324)
    assert feat.extract(x, "color-hist").shape == (4, 16)
    both = feat.extract(x, "hog+color")
    np.testing.assert_array_equal(both, np.hstack([feat.hog(x), feat.color_histogram(x)]))
    with pytest.raises(ValueError, match="not one of pixels, hog"):
        feat.extract(x, "sift")
    with pytest.raises(ValueError, match=r"expected images \(N, H, W\)"):
        feat.extract(np.zeros((4, 64)), "hog")


def test_the_cache_is_used_the_second_time_and_keyed_by_the_options(tmp_path, monkeypatch):
    x = np.random.default_rng(2).random((5, 8, 8)).astype(np.float32)
    first = feat.features(x, "hog+color", tmp_path)
    files = list(tmp_path.glob("hog+color-*.npy"))
    assert len(files) == 1

    def refuse(*args):
        raise AssertionError("computed again")

    monkeypatch.setattr(feat, "extract", refuse)
    np.testing.assert_array_equal(feat.features(x, "hog+color", tmp_path), first)  # read back
    monkeypatch.undo()
    feat.features(x[:4], "hog+color", tmp_path)  # other images: another file
    monkeypatch.setitem(feat.HOG, "orientations", 8)  # another option: another file
    assert feat.features(x, "hog+color", tmp_path).shape == (5, 4 * 8 * 9 + 16)
    assert len(list(tmp_path.glob("hog+color-*.npy"))) == 3
    monkeypatch.undo()
    files[0].write_bytes(b"not an npy file")  # damaged: computed and written again
    np.testing.assert_array_equal(feat.features(x, "hog+color", tmp_path), first)
    assert np.load(files[0]).shape == first.shape
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    np.testing.assert_array_equal(feat.features(x, "hog+color", blocked / "sub"), first)


def test_without_scikit_image_the_error_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(ImportError, match="pip install scikit-image"):
        feat.hog(np.zeros((1, 8, 8)))
