"""Grids of training runs: the lecture's network size against regularization strength.

``run_sweep`` trains one run per combination of the values given (``reg``, ``hidden``, ``lr``,
``activation``), each grid point one task on an executor (local processes, Ray or Dask), each
run in its own sub-folder. The best run is chosen on validation accuracy alone; only its test
accuracy is reported.

- ``grid.py``: the grid (``grid``, ``run_name``, ``AXES``);
- ``task.py``: one point as a task (``train_point``), and its run folder brought home;
- ``executors.py``: where the tasks run (``run_tasks``: local, Ray, Dask);
- ``runner.py``: ``run_sweep``: skip the complete points, run the others, the table;
- ``figure.py``: ``boundary_figure``, the decision boundaries of a 2-D sweep.
"""

from .executors import EXECUTORS, run_tasks
from .figure import boundary_figure
from .grid import AXES, grid, run_name
from .runner import run_sweep
from .task import train_point

__all__ = [
    "AXES",
    "EXECUTORS",
    "boundary_figure",
    "grid",
    "run_name",
    "run_sweep",
    "run_tasks",
    "train_point",
]
