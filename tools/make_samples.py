"""Write the sample images that ship with chainrule (for `chainrule predict --samples`).

    python tools/make_samples.py

One 8x8 grey PNG per class, digit-0.png .. digit-9.png, in chainrule/data/datasets/samples/:
the first test-split image of each class of the embedded digits (see
``chainrule.data.datasets.digits.sample_pixels``). tests/data checks that the files hold
exactly those pixels.
"""

from __future__ import annotations

import io

from PIL import Image

from chainrule.data.datasets.digits import SAMPLES, sample_images, sample_pixels
from chainrule.serialization import atomic_write_bytes


def main() -> None:
    SAMPLES.mkdir(exist_ok=True)
    for path, pixels in zip(sample_images(), sample_pixels()):
        buf = io.BytesIO()
        Image.fromarray(pixels, "L").save(buf, format="PNG")  # no timestamp: same bytes each run
        atomic_write_bytes(path, buf.getvalue())
        print(f"wrote {path} ({len(buf.getvalue())} bytes)")


if __name__ == "__main__":
    main()
