"""The demo model the sandbox serves: a small seeded fraud scorer (16 features -> 2 class
probabilities), built in seconds and packaged with `model_packaging` like any user model."""

from __future__ import annotations

from typing import Any

FEATURES = 16
SEED = 7


def build() -> tuple[Any, tuple[Any]]:
    """`(model, example_inputs)`, for `exitplan package sandbox/demo_model.py:build`."""
    import torch

    torch.manual_seed(SEED)
    model = torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 2),
        torch.nn.Softmax(dim=1),
    ).eval()
    return model, (torch.randn(2, FEATURES),)
