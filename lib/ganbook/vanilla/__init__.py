"""Chapter 1: the vanilla GAN of Goodfellow et al. (2014) on MNIST.

gan  G: z -> x and D: x -> logit as MLPs (the Keras tutorial's shapes), the value
     function V(D, G) = E log D(x) + E log(1 - D(G(z))), the saturating and
     non-saturating generator losses, and alternating training
"""

from ganbook.vanilla.gan import (
    Discriminator,
    GANConfig,
    Generator,
    accuracy,
    build,
    config_for,
    d_step,
    eps_trap_batchnorm,
    g_step,
    keras_batchnorm,
    keras_init,
    log_line,
    train,
    train_step,
    trained,
)

__all__ = [
    "Discriminator",
    "GANConfig",
    "Generator",
    "accuracy",
    "build",
    "config_for",
    "d_step",
    "eps_trap_batchnorm",
    "g_step",
    "keras_batchnorm",
    "keras_init",
    "log_line",
    "train",
    "train_step",
    "trained",
]
