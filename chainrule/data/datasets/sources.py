"""Where the downloadable data sets come from: mirrors, file names, MD5 sums and sizes.

One table for all of them. ``MIRRORS[name]`` lists base addresses, the canonical one first;
a file's URL is the base address followed by its file name. Replace an entry to use a local
mirror (the tests point it at a server on 127.0.0.1):

    >>> cr.data.datasets.MIRRORS["mnist"] = ["http://mirror.example.org/mnist/"]

The MD5 sums are the published ones, as torchvision lists them; the sizes are those of the
published files and cap what a download may deliver.
"""

from __future__ import annotations

from .base import Resource

MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/"],
}

RESOURCES: dict[str, list[Resource]] = {
    "mnist": [
        Resource("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
        Resource("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28881),
        Resource("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1648877),
        Resource("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4542),
    ],
    "fashion-mnist": [
        Resource("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
        Resource("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29515),
        Resource("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4422102),
        Resource("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5148),
    ],
    "cifar10": [
        Resource("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", 170498071),
    ],
}
