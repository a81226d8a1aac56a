"""Chapter 2: DCGAN (Radford et al., 2016) and Salimans et al.'s (2016) techniques.

model       the all-convolutional G and D, their N(0, 0.02) initialisation and the
            config of a run
training    the DCGAN step and training, and the trained model later chapters reuse
comparison  plain DCGAN, feature matching, minibatch discrimination and a plain D
            of the same size, seed by seed
techniques  feature matching ||E f(x) - E f(G(z))||^2 and minibatch discrimination
latent      linear and spherical paths through z
conditional the DCGAN authors' own MNIST model, conditioned on the digit's label
"""

from ganbook.dcgan import conditional
from ganbook.dcgan.comparison import (
    EVAL_SEED,
    FAIL_MAX_SHARE,
    FAIL_MIN_CLASSES,
    FAIL_MIN_SURE,
    Comparison,
    compare,
    failed,
    sure_coverage,
)
from ganbook.dcgan.model import (
    DATASETS,
    MATCHED,
    METHODS,
    SCALE_SETTINGS,
    DCGANConfig,
    Discriminator,
    Generator,
    build,
    config_for,
    feature_sizes,
    matched_d_width,
    parameter_count,
    weights_init,
)
from ganbook.dcgan.training import (
    joint_features,
    real_batch,
    train,
    train_step,
    trained,
    trained_dcgan,
)

__all__ = [
    "EVAL_SEED",
    "FAIL_MAX_SHARE",
    "FAIL_MIN_CLASSES",
    "FAIL_MIN_SURE",
    "MATCHED",
    "METHODS",
    "SCALE_SETTINGS",
    "DATASETS",
    "Comparison",
    "DCGANConfig",
    "Discriminator",
    "Generator",
    "build",
    "compare",
    "conditional",
    "config_for",
    "failed",
    "feature_sizes",
    "joint_features",
    "matched_d_width",
    "parameter_count",
    "sure_coverage",
    "real_batch",
    "train",
    "train_step",
    "trained",
    "trained_dcgan",
    "weights_init",
]
