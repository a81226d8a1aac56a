"""The Bayesian GAN on images: chapter 4's posteriors over chapter 2's DCGAN.

The public names of its three modules, so that one import gives the whole model
(``from ganbook.bayesian import images``):

images_model      D with K class logits and a fake logit fixed at 0, the J x M weight
                  samples of G and D stacked, the config, the posterior-averaged
                  classifier
images_posterior  the energies U_d and U_g for networks with BatchNorm
images_training   burn-in, then SGHMC; held-out accuracy; the model cache
"""

from ganbook.bayesian.images_model import (
    OPTIMIZERS,
    SCALE_SETTINGS,
    SCORED_SAMPLES,
    SEMI_SETTINGS,
    BayesClassifier,
    BDCGANConfig,
    Discriminator,
    at_equal_compute,
    build,
    config_for,
    d_images_per_iteration,
    dcgan_steps_at_equal_compute,
    load_classifier,
    sample_accuracies,
    semi_config_for,
)
from ganbook.bayesian.images_posterior import (
    ImagePosterior,
    pairwise_gradient_penalty,
    posterior_for,
    supervised_energy,
)
from ganbook.bayesian.images_training import (
    generate,
    labelled_subset,
    pooled,
    progress_line,
    recalibrate_batchnorm,
    test_accuracy,
    to_tensor,
    train,
    trained,
)

__all__ = [
    "OPTIMIZERS",
    "SCALE_SETTINGS",
    "SCORED_SAMPLES",
    "SEMI_SETTINGS",
    "BayesClassifier",
    "BDCGANConfig",
    "Discriminator",
    "ImagePosterior",
    "at_equal_compute",
    "build",
    "config_for",
    "d_images_per_iteration",
    "dcgan_steps_at_equal_compute",
    "generate",
    "labelled_subset",
    "load_classifier",
    "pairwise_gradient_penalty",
    "pooled",
    "posterior_for",
    "progress_line",
    "recalibrate_batchnorm",
    "sample_accuracies",
    "semi_config_for",
    "supervised_energy",
    "test_accuracy",
    "to_tensor",
    "train",
    "trained",
]
