"""The models a run can train: the registry of model families, their spec and preprocessing.

A run stores its model as a *spec* (a small JSON dict: ``model``, ``in_features``, ``hidden``,
``num_classes``, ``activation``, ``classes``, ``image_shape``, ``dataset``) and a
*preprocessing* (the training split's statistics) next to its weights, so that evaluate and
predict rebuild exactly the model that was trained.

Where a new model family plugs in: ``MODELS``, through ``register_model``. A family is a
``ModelFamily``: how to build the module from a spec, and how its samples are prepared. Every
``--model`` name (the command line's choices, ``TrainConfig.validate``, ``build_model``,
``load_model``) comes from this registry, so a ConvNet is one call::

    register_model("convnet", ModelFamily(build=ConvNet.from_spec, preprocess=ImagePreprocess))

where ``ImagePreprocess`` keeps each sample's (C, H, W) shape instead of flattening it, and the
batches that reach the model are image-shaped; that is how ``convnet`` (``convnet.py``) is
registered below. (A family with new spec fields also teaches ``model_file.read_model_file`` to
check them.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..data.features import features as image_features
from ..data.transforms import Standardize, flatten
from .conv_figures import convnet_figures
from .convnet import ConvNet, ImagePreprocess, default_kernel_size

if TYPE_CHECKING:
    from .config import TrainConfig


class Preprocess:
    """Turn each sample into a vector (its pixels, flattened, or hand-crafted features), then
    standardize it with the training split's statistics.

    The steps of ``cr.data.transforms`` (``flatten``, ``Standardize``) and, with ``features``,
    ``cr.data.features`` (HOG, colour histograms), kept together so that a run can store them
    next to its weights and apply them again in evaluate and predict.

    Args:
        standardize: the fitted per-feature standardization.
        features: "pixels" (the default), "hog", "color-hist" or "hog+color".
        cache: where computed features are cached (a data set's ``features`` folder), or None.
    """

    def __init__(
        self, standardize: Standardize, features: str = "pixels", cache: Any = None
    ) -> None:
        self.standardize = standardize
        self.features = features
        self.cache = cache

    @classmethod
    def fit(cls, x_train: np.ndarray, features: str = "pixels", cache: Any = None) -> Preprocess:
        prep = cls(Standardize(), features, cache)
        prep.standardize.fit(prep.vectors(x_train))
        return prep

    def vectors(self, x: np.ndarray) -> np.ndarray:
        """The samples as vectors, before standardization: pixels or features, (N, D)."""
        if self.features == "pixels":
            return flatten(np.asarray(x, dtype=np.float32))
        return image_features(x, self.features, self.cache)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.standardize(self.vectors(x))

    def to_json(self) -> dict:
        out: dict[str, Any] = {k: v.tolist() for k, v in self.standardize.state_dict().items()}
        if self.features != "pixels":
            out["features"] = self.features
        return out

    @classmethod
    def from_json(cls, d: dict) -> Preprocess:
        standardize = Standardize()
        standardize.load_state_dict({k: np.asarray(d[k]) for k in ("mean", "std")})
        return cls(standardize, d.get("features", "pixels"))


@dataclass(frozen=True)
class ModelFamily:
    """A kind of model that ``--model`` names: how it is built and how its samples are prepared.

    Args:
        build: the spec (see the module's docstring) -> the module, with fresh weights drawn
            from chainrule's generator.
        preprocess: the class that prepares samples for it: ``fit(x_train)`` learns from the
            training split, calling it prepares any split (arrays in, arrays out), and
            ``to_json``/``from_json`` store it with the weights. ``Preprocess`` flattens each
            sample into a vector; an image model gives one that keeps the image's shape.
        figures: the family's own figures of a finished run, besides the learning curves and
            the confusion matrix: ``figures(folder, model, prep, spec, splits)`` writes them
            into the run folder (the ConvNet's filters and feature maps); None for none.

    Example:
        >>> wide = ModelFamily(lambda s: nn.MLP(s["in_features"], [1000], s["num_classes"]))
        >>> register_model("wide", wide)   # then: chainrule train --model wide
    """

    build: Callable[[dict[str, Any]], nn.Module]
    preprocess: Any = Preprocess
    figures: Callable[..., None] | None = None


#: The model families, by the name ``--model`` gives (config.MODELS is this registry).
MODELS: dict[str, ModelFamily] = {}


def register_model(name: str, family: ModelFamily) -> None:
    """Make ``name`` a model that runs can train (``--model name``, ``TrainConfig(model=name)``).

    Args:
        name: the name, as the command line and config files give it.
        family: how to build it and prepare its samples.

    Raises:
        ValueError: ``name`` is registered already.
    """
    if name in MODELS:
        raise ValueError(f"register_model: {name!r} is registered already; choose another name")
    MODELS[name] = family


register_model("linear", ModelFamily(lambda s: nn.Linear(s["in_features"], s["num_classes"])))
register_model(
    "mlp",
    ModelFamily(lambda s: nn.MLP(s["in_features"], s["hidden"], s["num_classes"], s["activation"])),
)
register_model(
    "convnet",
    ModelFamily(ConvNet.from_spec, ImagePreprocess, figures=convnet_figures),
)


def model_spec(config: TrainConfig, splits: Any, x_train: np.ndarray) -> dict[str, Any]:
    """The spec of the model ``config`` asks for, on these splits (``x_train`` prepared)."""
    spec = {  # this order is the order of config.json and of the model file's JSON
        "model": config.model,
        "in_features": int(np.prod(x_train.shape[1:])),
        "hidden": list(config.hidden),
        "num_classes": len(splits.classes),
        "activation": config.activation,
        "classes": list(splits.classes),
        "image_shape": list(splits.image_shape) if splits.image_shape else None,
        "dataset": config.dataset,
    }
    if config.features != "pixels":  # hand-crafted features: in_features counts them
        spec["features"] = config.features
    if config.model == "convnet":  # the ConvNet's own fields (model_file checks them)
        spec["channels"] = list(config.channels)
        spec["kernel_size"] = config.kernel_size or default_kernel_size(splits.image_shape)
        spec["pool"] = config.pool
    return spec


def build_model(spec: dict[str, Any]) -> nn.Module:
    """The model a spec describes: {"model": a name of ``MODELS`` ("linear", "mlp"),
    "in_features", "hidden", "num_classes", "activation"}."""
    return family_of(spec).build(spec)


def family_of(spec: dict[str, Any]) -> ModelFamily:
    """The registered family of a spec's ``model``; ValueError naming the known ones."""
    family = MODELS.get(spec["model"])
    if family is None:
        raise ValueError(
            f"unknown model {spec['model']!r}: expected one of {', '.join(MODELS)} (a new kind "
            "of model is registered with chainrule.train.models.register_model)"
        )
    return family


def predict_scores(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class scores for preprocessed samples, in batches, without recording a graph."""
    out = []
    with no_grad():
        for i in range(0, len(x), batch_size):
            out.append(model(Tensor._make(x[i : i + batch_size])).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
