"""Chapter 5: choosing among a generator's samples with its discriminator.

Read beside Turner et al., *Metropolis-Hastings Generative Adversarial
Networks* (ICML 2019, "MH-GAN") and Azadi et al., *Discriminator Rejection
Sampling* (ICLR 2019, "DRS").

proposers    samples from G with D's logit, the log density ratio log p_data / p_G
rejection    exact rejection sampling and discriminator rejection sampling
mh           the Metropolis-Hastings GAN with acceptance
             min(1, (D(x_k)^-1 - 1) / (D(x')^-1 - 1))
calibration  isotonic calibration of D, and Dawid's Z statistic to test it
mixtures     the 1-D mixture and the 5x5 grid of Gaussians, and their metrics
toys         the toy problems' GANs, and every selector scored on them
"""

from ganbook.selection.calibration import (
    IsotonicCalibrator,
    calibrated,
    calibration_z,
    fit_calibrator,
    z_statistic,
)
from ganbook.selection.mh import (
    mh_acceptance,
    mh_log_acceptance,
    mh_select,
)
from ganbook.selection.mixtures import (
    MIXTURES,
    QUALITY_STDS,
    RECOVERED_SHARE,
    Mixture,
    evaluate,
    js_divergence,
)
from ganbook.selection.proposers import (
    CLIP,
    Proposer,
    Selection,
    gan_proposer,
    logit,
    logits_of,
    posterior_logit,
    posterior_proposer,
    with_real_statistics,
)
from ganbook.selection.rejection import (
    drs,
    drs_acceptance,
    rejection_sample,
)
from ganbook.selection.toys import (
    HELD_OUT_SEED,
    METHODS,
    SCALE_SETTINGS,
    Discriminator,
    Generator,
    ToyConfig,
    at_step,
    build,
    config_for,
    fresh_real,
    held_out,
    mlp,
    r1_penalty,
    refine_discriminator,
    score_run,
    select_all,
    train,
    trained,
)

__all__ = [
    "CLIP",
    "HELD_OUT_SEED",
    "METHODS",
    "MIXTURES",
    "QUALITY_STDS",
    "RECOVERED_SHARE",
    "SCALE_SETTINGS",
    "Discriminator",
    "Generator",
    "IsotonicCalibrator",
    "Mixture",
    "Proposer",
    "Selection",
    "ToyConfig",
    "at_step",
    "build",
    "calibrated",
    "calibration_z",
    "config_for",
    "drs",
    "drs_acceptance",
    "evaluate",
    "fit_calibrator",
    "gan_proposer",
    "fresh_real",
    "held_out",
    "js_divergence",
    "logit",
    "logits_of",
    "mh_acceptance",
    "mh_log_acceptance",
    "mh_select",
    "mlp",
    "r1_penalty",
    "posterior_logit",
    "posterior_proposer",
    "refine_discriminator",
    "rejection_sample",
    "score_run",
    "select_all",
    "train",
    "trained",
    "with_real_statistics",
    "z_statistic",
]
