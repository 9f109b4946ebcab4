"""Random optimizer options, each in its valid range: shared by the random optimizer tests."""

import numpy as np

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def options(rng: np.random.Generator, name: str) -> dict:
    """Random hyperparameters in each option's valid range, booleans included."""
    coin = lambda p=0.5: bool(rng.random() < p)  # noqa: E731
    kw: dict = {"lr": float(rng.uniform(0.001, 0.3)), "maximize": coin(0.3)}
    if coin():
        kw["weight_decay"] = float(rng.uniform(0.0, 0.2))
    if name == "SGD":
        if coin(0.7):
            kw["momentum"] = float(rng.uniform(0.1, 0.95))
            if coin():
                kw["nesterov"] = True
            elif coin():
                kw["dampening"] = float(rng.uniform(0.0, 0.9))
    elif name in ("Adam", "AdamW"):
        kw["betas"] = (float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.8, 0.999)))
        kw["eps"] = float(10 ** rng.uniform(-8, -2))
        kw["amsgrad"] = coin()
        if name == "Adam" and coin(0.3):
            kw["decoupled_weight_decay"] = True
    elif name == "RMSprop":
        kw["alpha"] = float(rng.uniform(0.5, 0.99))
        kw["eps"] = float(10 ** rng.uniform(-8, -2))
        kw["centered"] = coin()
        if coin():
            kw["momentum"] = float(rng.uniform(0.1, 0.9))
    else:  # Adagrad
        kw["lr_decay"] = float(rng.uniform(0.0, 0.3)) if coin() else 0.0
        kw["initial_accumulator_value"] = float(rng.uniform(0.0, 1.0)) if coin() else 0.0
        kw["eps"] = float(10 ** rng.uniform(-10, -3))
    return kw
