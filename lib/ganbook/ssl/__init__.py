"""Chapter 3: the semi-supervised GAN (Salimans et al., 2016) as the source builds it.

models       D with K + 1 = 11 outputs (class K+1 = "generated"), G, and D read as a
             digit classifier
losses       the 11-class losses and the K-logit form (p(real|x) = Z(x) / (Z(x) + 1),
             Z(x) = sum_k exp l_k(x)), G trained by feature matching
labels       balanced labelled subsets, the seed's redrawn mask, the batch sampler
training     the config, training, the supervised-only baseline, held-out accuracy
mlp          Salimans et al.'s own MNIST model (an MLP with weight normalisation and
             Gaussian noise), its losses and training, and its supervised control
experiments  the grid of models, label counts and seeds, trained side by side
"""

from ganbook.ssl.experiments import (
    SEEDS,
    WORKERS,
    RunKey,
    paired_gains,
    results_table,
    run_grid,
    train_all,
    verdict,
)
from ganbook.ssl.labels import (
    MASKS,
    Batches,
    label_count,
    labelled_subset,
    labels_seen_by_epoch,
    seed_labelled_mask,
)
from ganbook.ssl.losses import (
    D_LOSSES,
    G_LOSSES,
    eleven_class_d_loss,
    eleven_class_g_loss,
    extended_labels,
    klogit_d_loss,
    klogit_g_loss,
    klogit_prob_real,
    masked_mean,
)
from ganbook.ssl.mlp import MLP_MODELS, MLPConfig
from ganbook.ssl.models import (
    IMAGE_SIZE,
    IMAGE_SIZES,
    MNIST_SIZE,
    NUM_CLASSES,
    Classifier,
    Discriminator,
    Generator,
    TFDropout,
    channels,
    check_images,
    resize,
    tf_batchnorm,
    tf_init,
    to_mnist_size,
)
from ganbook.ssl.training import (
    MLP_SETTINGS,
    MODELS,
    PAPER_STEPS,
    SCALE_SETTINGS,
    SSGANConfig,
    accuracy,
    build,
    config_for,
    evaluate,
    held_out_accuracy,
    is_cached,
    load_classifier,
    recalibrate_batchnorm,
    train,
    trained,
)

__all__ = [
    "D_LOSSES",
    "G_LOSSES",
    "IMAGE_SIZE",
    "IMAGE_SIZES",
    "MASKS",
    "MLP_MODELS",
    "MLP_SETTINGS",
    "MNIST_SIZE",
    "MODELS",
    "PAPER_STEPS",
    "NUM_CLASSES",
    "SCALE_SETTINGS",
    "SEEDS",
    "WORKERS",
    "Batches",
    "Classifier",
    "Discriminator",
    "Generator",
    "MLPConfig",
    "RunKey",
    "SSGANConfig",
    "TFDropout",
    "accuracy",
    "build",
    "channels",
    "check_images",
    "config_for",
    "eleven_class_d_loss",
    "eleven_class_g_loss",
    "evaluate",
    "extended_labels",
    "held_out_accuracy",
    "is_cached",
    "klogit_d_loss",
    "klogit_g_loss",
    "klogit_prob_real",
    "label_count",
    "labelled_subset",
    "labels_seen_by_epoch",
    "load_classifier",
    "masked_mean",
    "paired_gains",
    "recalibrate_batchnorm",
    "resize",
    "results_table",
    "run_grid",
    "seed_labelled_mask",
    "tf_batchnorm",
    "tf_init",
    "to_mnist_size",
    "train",
    "train_all",
    "trained",
    "verdict",
]
