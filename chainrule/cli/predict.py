"""``chainrule predict RUN FILE...``: classify images (PNG, JPEG) or arrays (NPY) with a run."""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

import numpy as np

from ._common import fail

EXAMPLES = """examples:
  chainrule predict runs/digits-mlp digit.png         one image: its class and top probabilities
  chainrule predict runs/digits-mlp a.png b.png x.npy  several files; an .npy may hold a batch
  chainrule predict runs/spiral-mlp points.npy --top 2 2-D points, shape (N, 2)

Images must have the training images' size (8x8 for digits, 28x28 for MNIST, 32x32 RGB for
CIFAR-10); 8-bit pixels are scaled to [0, 1] as in training, and colour images become grey for
grey-scale models.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="classify images or arrays with a trained run",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run folder written by `chainrule train`")
    p.add_argument("files", metavar="FILE", nargs="+", help=".png, .jpg/.jpeg or .npy files")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.set_defaults(run_command=run)


MAX_IMAGE_BYTES = 20_000_000
MAX_IMAGE_PIXELS = 4096 * 4096


class InputError(ValueError):
    """A file predict cannot use, with what was expected and what was found."""


def read_input(path: Path, sample_shape: tuple[int, ...]) -> np.ndarray:
    """A batch of samples of ``sample_shape`` (float32, training scale) from one file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if suffix == ".npy":
        arr = _read_npy(path)
    elif suffix in (".png", ".jpg", ".jpeg"):
        arr = _read_image(path)
    else:
        raise InputError(f"{path}: expected a .png, .jpg, .jpeg or .npy file; got {suffix!r}")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: expected numbers; found dtype {arr.dtype}")
    if arr.dtype.kind in "iu" and arr.dtype.itemsize == 1:
        arr = arr / 255.0
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == len(sample_shape) + 1 and arr.shape[-1] in (3, 4) and len(sample_shape) == 2:
        arr = arr[..., :3].mean(axis=-1)  # colour image, grey-scale model
    if arr.shape == sample_shape:
        return arr[None]
    if arr.shape[1:] == sample_shape:
        return arr
    raise InputError(
        f"{path}: expected an image or array of shape {sample_shape} (or a batch of them); "
        f"found shape {arr.shape}"
    )


def _read_npy(path: Path) -> np.ndarray:
    """A plain .npy array, its header checked against the file's size before anything is read."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise InputError(f"{path}: unknown .npy format version {version}")
            size_bytes = 2 if version == (1, 0) else 4
            header_len = int.from_bytes(f.read(size_bytes), "little")
            if header_len > path.stat().st_size:  # check before NumPy reads that many bytes
                raise InputError(f"{path}: the .npy header declares more bytes than the file has")
            f.seek(-size_bytes, 1)
            read_header = (
                fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
            if dtype.hasobject or dtype.kind not in "biuf":
                raise InputError(f"{path}: expected an array of numbers; found dtype {dtype}")
            count = math.prod(shape)
            remaining = path.stat().st_size - f.tell()
            if count * dtype.itemsize != remaining:
                raise InputError(
                    f"{path}: the header declares {count * dtype.itemsize} bytes of data "
                    f"(shape {shape}, {dtype}); the file holds {remaining}"
                )
            data = np.fromfile(f, dtype=dtype, count=count)
    except InputError:
        raise
    except Exception as e:  # NumPy's header parser raises many kinds for a damaged header
        raise InputError(f"{path}: not a readable .npy array ({type(e).__name__}: {e})") from None
    return data.reshape(shape, order="F" if fortran else "C")


def _read_image(path: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        if path.suffix.lower() != ".png":
            raise InputError(
                f"{path}: reading JPEG needs Pillow: pip install 'chainrule[data]'"
            ) from None
        try:
            import matplotlib.image as mpimg
        except ImportError:
            raise InputError(f"{path}: reading PNG needs Pillow or matplotlib") from None
        try:
            arr = mpimg.imread(path)
        except Exception as e:  # the reader's own errors, for a file that is no PNG
            raise InputError(f"{path}: not a readable PNG image ({e})") from None
        return (arr * 255).round().astype(np.uint8) if arr.dtype.kind == "f" else arr
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise InputError(f"{path}: expected a small image file; found {path.stat().st_size} bytes")
    try:
        # from memory: a damaged chunk length then cannot make the reader allocate beyond the file
        with Image.open(io.BytesIO(path.read_bytes())) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:  # the header, before decoding anything
                raise InputError(f"{path}: expected a small image; found {im.width}x{im.height}")
            im.load()
            if im.mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGB")
            return np.asarray(im)
    except InputError:
        raise
    except Exception as e:  # Pillow raises many kinds (even SyntaxError) for damaged files
        raise InputError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None


def run(args: argparse.Namespace) -> int:
    from ..autograd.tensor import Tensor
    from ..ops import softmax
    from ..train import load_model, predict_scores

    if args.top < 1:
        return fail("predict", f"--top must be at least 1; got {args.top}")
    try:
        model, prep, spec = load_model(args.run)
    except (ValueError, FileNotFoundError) as e:
        return fail("predict", str(e))
    sample_shape = tuple(spec["image_shape"] or (spec["in_features"],))
    classes = spec["classes"]
    try:
        batches = [(Path(f), read_input(Path(f), sample_shape)) for f in args.files]
    except InputError as e:
        return fail("predict", str(e))
    for path, x in batches:
        probs = softmax(Tensor._make(predict_scores(model, prep(x))), dim=1).numpy()
        for i, p in enumerate(probs):
            name = str(path) if len(probs) == 1 else f"{path}[{i}]"
            order = np.argsort(-p)[: args.top]
            top = ", ".join(f"{classes[k]} {p[k]:.3f}" for k in order)
            print(f"{name}: {classes[order[0]]}  ({top})")
    return 0
