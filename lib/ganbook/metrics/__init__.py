"""How the book scores a generator and a discriminator.

evaluator  a small MNIST classifier C; from its class probabilities p(y|x) the
           Inception score exp(E_x KL(p(y|x) || p(y))), from its penultimate features
           the Fréchet distance ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)),
           and the class histogram of confident predictions (the rest: unsure), all on
           the book's standard number of images (SAMPLES); the cached Evaluator bundles them
probe      a linear classifier on a discriminator's features (few labels)
memorisation  each image's nearest training image, against unseen test digits' distances
"""

from ganbook.metrics.evaluator import (
    CLASSIFIER_EPOCHS,
    CONFIDENT,
    COVERED_SHARE,
    SAMPLES,
    DigitClassifier,
    Evaluator,
    build_classifier,
    class_histogram,
    confident_histogram,
    frechet_distance,
    gaussian_stats,
    get_evaluator,
    inception_score,
    predict,
    train_classifier,
)
from ganbook.metrics.memorisation import nearest_neighbours

__all__ = [
    "CLASSIFIER_EPOCHS",
    "CONFIDENT",
    "COVERED_SHARE",
    "SAMPLES",
    "DigitClassifier",
    "Evaluator",
    "build_classifier",
    "class_histogram",
    "confident_histogram",
    "frechet_distance",
    "gaussian_stats",
    "get_evaluator",
    "inception_score",
    "nearest_neighbours",
    "predict",
    "train_classifier",
]
