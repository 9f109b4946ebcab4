"""Neural-network building blocks: modules, layers, activations, losses and regularization."""

from . import functional, init, utils
from .activations import (
    ELU,
    Hardtanh,
    Identity,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .conv import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d, MaxPool1d, MaxPool2d
from .layers import (
    MLP,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Dropout2d,
    Embedding,
    Flatten,
    GroupNorm,
    LayerNorm,
    Linear,
    Maxout,
    Unflatten,
)
from .loss_modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .regularization import l2_penalty
