"""A network drawn as the lecture's architecture slides draw it: neurons as circles, layers as
columns, every neuron of a layer joined to every neuron of the next ("fully-connected")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._common import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LAYER_COLORS = {"input": "#f4c7c3", "hidden": "#c6dbef", "output": "#c7e9c0"}
# Layers between two weight layers that keep the width: no column of their own.
WIDTH_KEEPING = ("Dropout", "Flatten", "BatchNorm1d", "LayerNorm")


def network_layers(model: Any) -> tuple[list[int], list[str]]:
    """The widths of a network's layers of neurons and what each hidden layer applies.

    Args:
        model: a ``cr.nn.Module`` (its ``Linear`` and ``Maxout`` layers, in the order
            ``modules()`` lists them, and the activations between them), or the widths
            themselves, e.g. ``[3, 4, 4, 1]``.

    Returns:
        (widths, activations): ``widths[0]`` inputs, then one width per layer of weights;
        ``activations[i]`` names what follows weight layer i ("relu", "maxout (2 pieces)", or
        "" where nothing does).

    Example:
        >>> network_layers(cr.nn.MLP(3072, [100], 10))
        ([3072, 100, 10], ['relu', ''])
    """
    if isinstance(model, Sequence) and not isinstance(model, str):
        widths = list(model)
        if len(widths) < 2 or not all(isinstance(w, int) and w > 0 for w in widths):
            raise ValueError(
                "draw_network: widths must be two or more positive integers (inputs, then each "
                f"layer), e.g. [3, 4, 2]; got {widths!r}"
            )
        return widths, [""] * (len(widths) - 1)
    if not hasattr(model, "modules"):
        raise TypeError(
            "draw_network: expected a cr.nn.Module or a list of layer widths; got "
            f"{type(model).__name__}"
        )
    widths: list[int] = []
    activations: list[str] = []
    for m in model.modules():
        if m is model and len(list(model.children())) > 0:
            continue  # a container: its layers come next
        name = type(m).__name__
        if hasattr(m, "in_features") and hasattr(m, "out_features"):
            if widths and widths[-1] != m.in_features:
                raise ValueError(
                    f"draw_network: a {name} takes {m.in_features} inputs after a layer of "
                    f"{widths[-1]}; only a chain of layers can be drawn as columns"
                )
            if not widths:
                widths.append(int(m.in_features))
            widths.append(int(m.out_features))
            pieces = getattr(m, "pieces", None)
            activations.append(f"maxout ({pieces} pieces)" if pieces else "")
        elif hasattr(m, "kernel_size") or (
            list(m.parameters(recurse=False)) and name not in WIDTH_KEEPING
        ):
            raise ValueError(_not_a_column(model, m))
        elif widths and not list(m.parameters()) and name not in WIDTH_KEEPING:
            activations[-1] = _activation_name(name)
    if len(widths) < 2:
        raise ValueError(
            f"draw_network: {type(model).__name__} has no Linear (or Maxout) layer to draw"
        )
    return widths, activations


def _not_a_column(model: Any, layer: Any) -> str:
    """Why ``layer`` cannot be drawn as a column of neurons, and what can be drawn instead."""
    name = type(layer).__name__
    hint = "draw its computational graph with cr.viz.draw_graph"
    children = list(model.children())
    flattens = [i for i, m in enumerate(children) if type(m).__name__ == "Flatten"]
    if flattens and hasattr(model, "__getitem__"):
        hint = f"draw its fully-connected part alone, draw_network(model[{flattens[-1] + 1}:])"
    what = (
        "whose outputs are feature maps, not one column of neurons"
        if hasattr(layer, "kernel_size")
        else "a layer with weights that is neither Linear nor Maxout"
    )
    return (
        f"draw_network: draws fully-connected networks (Linear or Maxout layers and the "
        f"activations between them); this {type(model).__name__} has a {name}, {what}: {hint}"
    )


def _activation_name(cls_name: str) -> str:
    names = {"ReLU": "relu", "LeakyReLU": "leaky relu", "ELU": "elu", "Identity": ""}
    return names.get(cls_name, cls_name.lower())


def draw_network(
    model: Any, max_neurons: int = 8, title: str | None = None, ax: Axes | None = None
) -> Figure:
    """Draw a network as the lecture's slides do: one column of circles per layer.

    The input layer on the left, each hidden layer, the output layer on the right; every
    neuron joined to every neuron of the next layer. A layer wider than ``max_neurons`` shows
    its first and last neurons with a vertical ellipsis between them, and its width below.

    Args:
        model: a ``cr.nn.Module`` made of Linear (or Maxout) layers and activations, such as
            ``cr.nn.MLP(3, [4, 4], 1)``; or the layer widths, ``[3, 4, 2]``.
        max_neurons: the most circles drawn in one column (at least 3).
        title: the figure's title; by default the lecture's names for the network ("2-layer
            Neural Net" or "1-hidden-layer Neural Net").
        ax: draw into this matplotlib Axes instead of a new figure (several networks side by
            side).

    Returns:
        The Figure (the one ``ax`` belongs to, when given).

    Raises:
        ValueError: the model has a layer that is not a column of neurons (a convolution or a
            pooling layer: a ConvNet); the message names the fully-connected part to draw.

    Example:
        >>> fig = draw_network(cr.nn.MLP(3, [4, 4], 1))   # the lecture's 3-layer net
        >>> save_figure(fig, "three_layer.png")
    """
    if not isinstance(max_neurons, int) or max_neurons < 3:
        raise ValueError(f"draw_network: max_neurons must be an integer >= 3; got {max_neurons!r}")
    widths, activations = network_layers(model)
    n_layers = len(widths) - 1  # layers of weights: the lecture's count
    shown = [_shown(w, max_neurons) for w in widths]
    tallest = max(len(s) for s in shown)
    if ax is None:
        scale = 0.6  # inches per unit of the drawing: a column is 1.9 units from the next
        width = max(4.0, scale * (1.9 * (len(widths) - 1) + 2.2))
        fig = new_figure((width, scale * (tallest + 2.4)))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    radius = 0.17
    centres: list[list[tuple[float, float]]] = []
    for col, rows in enumerate(shown):
        top = (len(rows) - 1) / 2
        centres.append([(col * 1.9, top - k) for k in range(len(rows))])
    for col in range(len(widths) - 1):  # the connections first, under the circles
        for (x0, y0), a in zip(centres[col], shown[col]):
            for (x1, y1), b in zip(centres[col + 1], shown[col + 1]):
                if a is not None and b is not None:
                    ax.plot([x0, x1], [y0, y1], color="#9a9a9a", lw=0.6, zorder=1)
    from matplotlib.patches import Circle

    for col, (rows, width) in enumerate(zip(shown, widths)):
        kind = "input" if col == 0 else "output" if col == len(widths) - 1 else "hidden"
        for (x, y), neuron in zip(centres[col], rows):
            if neuron is None:
                ax.text(x, y, "\u22ee", ha="center", va="center", fontsize=16, zorder=3)
                continue
            ax.add_patch(
                Circle((x, y), radius, facecolor=LAYER_COLORS[kind], edgecolor="#333333",
                       lw=1.0, zorder=2)
            )  # fmt: skip
        if kind == "hidden":
            name = f"hidden layer {col}" if n_layers > 2 else "hidden layer"
            act = activations[col - 1]
            label = f"{name}\n{width} neurons" + (f"\n{act}" if act else "")
        else:
            unit = "input" if kind == "input" else "output"
            label = f"{kind} layer\n{width} {unit}{'s' if width != 1 else ''}"
        ax.text(col * 1.9, -(tallest - 1) / 2 - 0.55, label, ha="center", va="top", fontsize=9)
    if title is None:
        hidden = n_layers - 1
        title = f'"{n_layers}-layer Neural Net"\n' + (
            f'or "{hidden}-hidden-layer Neural Net"' if hidden else "a linear classifier"
        )
    ax.set_title(title, fontsize=11)
    ax.set_aspect("equal")
    ax.set_xlim(-0.8, 1.9 * (len(widths) - 1) + 0.8)
    ax.set_ylim(-(tallest - 1) / 2 - 1.35, (tallest - 1) / 2 + 0.3)
    ax.axis("off")
    return fig


def _shown(width: int, most: int) -> list[int | None]:
    """Which neurons of a layer get a circle: all, or as many first as last around a None (the
    ellipsis, centred in its column) when there are more than ``most``."""
    if width <= most:
        return list(range(width))
    half = (most - 1) // 2
    return [*range(half), None, *range(width - half, width)]
