"""Optimizers and learning-rate schedules, with PyTorch's names and update rules.

``cr.optim.SGD(params, lr)`` with its defaults is the lecture's vanilla gradient descent,
``weights += -step_size * weights_grad``. Every optimizer takes parameter groups, ``zero_grad``,
``step(closure)``, ``state_dict()``/``load_state_dict()``; ``cr.optim.lr_scheduler`` holds the
schedules.

Example:
    >>> import chainrule as cr
    >>> import chainrule.optim as optim
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1)
    >>> for _ in range(3):
    ...     opt.zero_grad()
    ...     loss = (w * w).sum()
    ...     loss.backward()
    ...     opt.step()
    >>> w                           # each step multiplies w by 1 - 0.1 * 2
    tensor([ 0.512, -1.024], dtype=float32, requires_grad=True)
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
