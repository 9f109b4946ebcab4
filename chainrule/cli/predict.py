"""``chainrule predict RUN FILE...``: classify images (PNG, JPEG) or arrays (NPY) with a run."""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path

import numpy as np

from ._common import fail

EXAMPLES = """examples:
  chainrule predict RUN --samples          the ten sample digits shipped with chainrule
  chainrule predict RUN digit.png          one image: its class and top probabilities
  chainrule predict RUN a.png b.png x.npy  several files; an .npy may hold a batch
  chainrule predict RUN points.npy --top 2 2-D points (a spiral run), shape (N, 2)

RUN is a run folder, as train writes it: runs/digits-mlp-20250101-120000, say.

Images are PNG or JPEG files (no other format is opened) of the training images' size (8x8 for
digits, 28x28 for MNIST, 32x32 RGB for CIFAR-10); 8-bit pixels are scaled to [0, 1] as in
training, and colour images become grey for grey-scale models. Arrays (.npy) hold finite
numbers on the training scale, one sample or a batch.

Something to try it on: --samples classifies digit-0.png .. digit-9.png, 8x8 grey PNGs of one
test digit of each class (never seen in training), which ship with chainrule in
{samples}
"""


def register(sub: argparse._SubParsersAction) -> None:
    from ..data.datasets.digits import SAMPLES

    p = sub.add_parser(
        "predict",
        help="classify images or arrays with a trained run",
        description=__doc__,
        epilog=EXAMPLES.format(samples=SAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run folder written by `chainrule train`")
    p.add_argument("files", metavar="FILE", nargs="*", help=".png, .jpg/.jpeg or .npy files")
    p.add_argument(
        "--samples",
        action="store_true",
        help="also classify the ten sample digits shipped with chainrule (for a digits run)",
    )
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.set_defaults(run_command=run)


MAX_IMAGE_BYTES = 20_000_000
MAX_IMAGE_PIXELS = 4096 * 4096
IMAGE_FORMATS = ("PNG", "JPEG")  # Pillow opens no other: EPS, for one, would run Ghostscript

# the first bytes of formats people may try, to say what a file is when it is no PNG or JPEG
_MAGIC = [
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x93NUMPY", "NumPy .npy"),
    (b"RIFF", "RIFF (WebP?)"),
]


class InputError(ValueError):
    """A file predict cannot use, with what was expected and what was found."""


def read_input(path: Path, sample_shape: tuple[int, ...]) -> np.ndarray:
    """A batch of samples of ``sample_shape`` (float32, training scale) from one file.

    Raises:
        InputError: no such file, another kind of file, an image format other than PNG or
            JPEG, another shape, an empty batch, or values that are not finite numbers.
    """
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if suffix == ".npy":
        arr = _read_npy(path, sample_shape)
    elif suffix in (".png", ".jpg", ".jpeg"):
        arr = _read_image(path)
    else:
        raise InputError(f"{path}: expected a .png, .jpg, .jpeg or .npy file; got {suffix!r}")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: expected numbers; found dtype {arr.dtype}")
    if arr.dtype.kind in "iu" and arr.dtype.itemsize == 1:
        arr = arr / 255.0
    arr = _check_shape(path, arr.shape, sample_shape, arr)
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf: refused
        arr = np.asarray(arr, dtype=np.float32)
    if arr.shape[0] == 0:
        raise InputError(
            f"{path}: expected at least one sample of shape {sample_shape}; found an empty batch "
            f"of shape {arr.shape}"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        bad = arr.size - int(np.count_nonzero(finite))
        raise InputError(
            f"{path}: expected finite numbers; found {bad} NaN or infinite value"
            f"{'s' if bad > 1 else ''} (or beyond float32's range) among {arr.size}"
        )
    return arr


def _check_shape(
    path: Path, shape: tuple[int, ...], sample_shape: tuple[int, ...], arr: np.ndarray | None
) -> np.ndarray | None:
    """Check ``shape`` against one sample or a batch of them (colour allowed for grey models);
    with ``arr``, return it as a batch of grey samples."""
    colour = len(sample_shape) == 2 and len(shape) in (3, 4) and shape[-1] in (3, 4)
    grey = shape[:-1] if colour else shape
    if grey != sample_shape and grey[1:] != sample_shape:
        found = f"shape {shape}" if len(shape) <= 8 else f"an array of {len(shape)} dimensions"
        raise InputError(
            f"{path}: expected an image or array of shape {sample_shape} (or a batch of them); "
            f"found {found}"
        )
    if arr is None:
        return None
    if colour:
        arr = arr[..., :3].mean(axis=-1)  # colour image, grey-scale model
    return arr[None] if grey == sample_shape else arr


def _read_npy(path: Path, sample_shape: tuple[int, ...]) -> np.ndarray:
    """A plain .npy array, its header checked (dtype, shape, size against the file's size)
    before anything is read."""
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
            # before the size: a shape such as (0, 2^62, 2^62) has none, yet no array can have it
            _check_shape(path, tuple(shape), sample_shape, None)
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


def _detect(data: bytes) -> str:
    """The format a file's first bytes announce, as a name for messages ("PNG", "GIF", ...)."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return f"no known format (it starts with the bytes {data[:8].hex(' ') or 'nothing'})"


def _read_image(path: Path) -> np.ndarray:
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise InputError(f"{path}: expected a small image file; found {path.stat().st_size} bytes")
    data = path.read_bytes()
    detected = _detect(data)
    if detected not in IMAGE_FORMATS:  # decided here, before any decoder sees the bytes
        raise InputError(f"{path}: expected a PNG or JPEG image; found {detected}")
    try:
        from PIL import Image
    except ImportError:
        if detected != "PNG":
            raise InputError(
                f"{path}: reading JPEG needs Pillow: pip install 'chainrule[data]'"
            ) from None
        try:
            import matplotlib.image as mpimg
        except ImportError:
            raise InputError(f"{path}: reading PNG needs Pillow or matplotlib") from None
        try:
            arr = mpimg.imread(io.BytesIO(data), format="png")
        except Exception as e:  # the reader's own errors, for a file that is no PNG
            raise InputError(f"{path}: not a readable PNG image ({e})") from None
        return (arr * 255).round().astype(np.uint8) if arr.dtype.kind == "f" else arr
    try:
        # from memory: a damaged chunk length then cannot make the reader allocate beyond the
        # file; and only PNG and JPEG: Pillow tries no other format's decoder on the bytes
        with Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS)) as im:
            if im.format not in IMAGE_FORMATS:  # pragma: no cover - formats= already ensures it
                raise InputError(f"{path}: expected a PNG or JPEG image; found {im.format}")
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
    from ..data.datasets.digits import sample_images
    from ..ops import softmax
    from ..train import load_model, predict_scores

    if args.top < 1:
        return fail("predict", f"--top must be at least 1; got {args.top}")
    files = [Path(f) for f in args.files] + (sample_images() if args.samples else [])
    if not files:
        return fail("predict", "give the files to classify (FILE ...), or --samples")
    try:
        model, prep, spec = load_model(args.run)  # the model file checked in full first
    except (ValueError, FileNotFoundError) as e:
        return fail("predict", str(e))
    sample_shape = tuple(spec["image_shape"] or (spec["in_features"],))
    classes = spec["classes"]
    if args.samples and sample_shape != (8, 8):
        return fail(
            "predict",
            f"--samples: the samples are 8x8 digits, for a run trained on digits; this run "
            f"({spec['dataset']}) expects samples of shape {sample_shape}",
        )
    try:
        batches = [(f, read_input(f, sample_shape)) for f in files]
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
