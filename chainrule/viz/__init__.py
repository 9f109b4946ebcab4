"""Seeing what a network does. ``chainrule.viz.plots``: figures, with matplotlib."""

from . import graph, plots  # graph installs Tensor._repr_svg_, Jupyter's picture of a tensor
from .explain import Explanation, Graph, draw_graph, explain, trace
from .plots import (
    activation_functions,
    boundary_grid,
    class_grid,
    confusion_counts,
    confusion_matrix,
    decision_boundary,
    draw_network,
    first_layer,
    gradient_flow,
    learning_curves,
    mean_abs_grads,
    network_layers,
    save_figure,
    templates,
)
