"""Training runs: the loop, its run folder, checkpoints and metrics, and how a run stops."""

from .config import TrainConfig
from .metrics import accuracy, confusion_counts, per_class_accuracy
from .run import RunFolder, RunFolderBusy
from .stops import TrainingInterrupted
from .trainer import (
    Preprocess,
    build_model,
    evaluate,
    finish,
    fit,
    load_model,
    predict_scores,
)
