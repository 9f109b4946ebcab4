"""Training runs: the loop, its run folder, checkpoints and metrics, and how a run stops."""

from .config import TrainConfig
from .evaluation import evaluate, finish, load_model
from .metrics import accuracy, confusion_counts, per_class_accuracy
from .models import Preprocess, build_model, predict_scores
from .run import RunFolder, RunFolderBusy
from .stops import TrainingInterrupted
from .trainer import fit
