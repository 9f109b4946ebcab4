"""Figures for the lecture and for training runs, drawn with matplotlib.

Every function returns a ``matplotlib.figure.Figure`` made without pyplot, so nothing is shown
and no GUI is needed; ``save_figure(fig, "out.png")`` writes it. matplotlib is optional:
``pip install "chainrule[plot]"``.

Example:
    >>> from chainrule.viz import plots
    >>> plots.save_figure(plots.activation_functions(), "activations.png")
    PosixPath('activations.png')
"""

from __future__ import annotations

from ._common import save_figure
from .activations import activation_functions
from .boundary import boundary_grid, class_grid, decision_boundary
from .classification import confusion_counts, confusion_matrix
from .network import draw_network, network_layers
from .training import gradient_flow, learning_curves, mean_abs_grads
from .weights import first_layer, templates

__all__ = [
    "activation_functions",
    "boundary_grid",
    "class_grid",
    "confusion_counts",
    "confusion_matrix",
    "decision_boundary",
    "draw_network",
    "first_layer",
    "gradient_flow",
    "learning_curves",
    "mean_abs_grads",
    "network_layers",
    "save_figure",
    "templates",
]
