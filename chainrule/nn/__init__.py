"""Neural-network building blocks: modules, layers, activations, losses and regularization."""

from . import functional, init, utils
from .activations import ELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .layers import (
    MLP,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Dropout2d,
    Flatten,
    LayerNorm,
    Linear,
    Maxout,
)
from .loss_modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .regularization import l2_penalty
