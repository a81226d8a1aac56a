"""DCGAN as representation learning: a linear classifier on D's features.

Radford et al. (2016, section 5.1) judge the discriminator as a feature
extractor: every convolutional layer's feature map is max-pooled to a 4x4
grid, the grids are flattened and concatenated, and a regularised linear
classifier is trained on top with few labels. The same classifier on the raw
pixels is the baseline that the features must beat.

Here the classifier is multinomial logistic regression (scikit-learn) on
standardised features; its regularisation strength C is chosen by 5-fold
cross-validation on the labelled examples alone, so the test digits are never
used to tune it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from ganbook.core.sampling import eval_mode

#: The grid of C values that cross-validation chooses from.
C_GRID = np.logspace(-4, 2, 7)


@torch.no_grad()
def discriminator_features(
    D: nn.Module, images: torch.Tensor, grid: int = 4, batch: int = 500
) -> np.ndarray:
    """Every hidden layer of ``D`` max-pooled to ``grid`` x ``grid``, flattened, concatenated.

    ``D`` must have a ``hidden(x)`` method returning its feature maps; it is run
    in eval mode, so BatchNorm uses its running statistics.
    """
    device = next(D.parameters()).device
    # A method of D's class, which nn.Module's stubs type as a parameter or submodule.
    hidden = cast(Callable[[torch.Tensor], list[torch.Tensor]], D.hidden)
    with eval_mode(D):
        out = []
        for i in range(0, len(images), batch):
            maps = hidden(images[i : i + batch].to(device))
            pooled = [F.adaptive_max_pool2d(m, grid).flatten(1) for m in maps]
            out.append(torch.cat(pooled, 1).cpu())
    return torch.cat(out).numpy()


def pixel_features(images: torch.Tensor) -> np.ndarray:
    """The raw pixels, flattened: the baseline representation."""
    return images.flatten(1).numpy()


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray | torch.Tensor,
    test_x: np.ndarray,
    test_y: np.ndarray | torch.Tensor,
    seed: int = 0,
) -> float:
    """Test accuracy of logistic regression fitted on (train_x, train_y).

    Features are standardised with the training examples' statistics; C is
    picked by stratified 5-fold cross-validation on the training examples.
    """
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    model = GridSearchCV(pipeline, {"logisticregression__C": C_GRID}, cv=folds)
    model.fit(train_x, np.asarray(train_y))
    return float((model.predict(test_x) == np.asarray(test_y)).mean())
