"""Training runs: the loop, its run folder, checkpoints and metrics."""

from .config import TrainConfig
from .metrics import accuracy, confusion_counts, per_class_accuracy
from .run import RunFolder
from .trainer import (
    Preprocess,
    TrainingInterrupted,
    build_model,
    evaluate,
    finish,
    fit,
    load_model,
    predict_scores,
)
