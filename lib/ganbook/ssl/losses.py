"""The losses of chapter 3's semi-supervised GAN.

Losses, with l(x) the 11 logits, y the digit and m the labelled mask:

    D_L = sum_i m_i CE(softmax l(x_i), [0, onehot(y_i)]) / sum_i m_i      (supervised)
        + mean_x BCE(sigmoid l_0(x), 0) + mean_z BCE(sigmoid l_0(G(z)), 1)  (real/fake)
    G_L = mean_z BCE(sigmoid l_0(G(z)), 0) + mean_j (E f(x)_j - E f(G(z))_j)^2

Salimans et al. (2016) write the same classifier with K logits and the fake
logit fixed at 0, so that D(x) = Z(x) / (Z(x) + 1) with Z(x) = sum_k exp l_k(x):

    L_unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))
                   = E_x softplus(-log Z(x)) + E_z softplus(log Z(G(z)))

and train G by feature matching alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbook.core.losses import feature_matching
from ganbook.ssl.models import NUM_CLASSES


def extended_labels(labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """One-hot digit labels with a leading 0 for the fake class (the seed's extended label)."""
    return F.pad(F.one_hot(labels, num_classes).float(), (1, 0))


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum(values * mask) / sum(mask); 0 for a batch with no labelled image.

    The seed divides by sum(mask) unguarded, which is 0/0 = NaN for such a batch.
    """
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def eleven_class_d_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The seed's D_L and its three terms (logit 0 is the real/fake neuron)."""
    cross_entropy = F.cross_entropy(real_logits, extended_labels(labels), reduction="none")
    supervised = masked_mean(cross_entropy, mask)
    real = F.binary_cross_entropy_with_logits(
        real_logits[:, 0], torch.zeros_like(real_logits[:, 0])
    )
    fake = F.binary_cross_entropy_with_logits(fake_logits[:, 0], torch.ones_like(fake_logits[:, 0]))
    return {"d_loss": supervised + real + fake, "d_sup": supervised, "d_real": real, "d_fake": fake}


def eleven_class_g_loss(
    fake_logits: torch.Tensor, real_features: torch.Tensor, fake_features: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The seed's G_L: fake-wants-to-be-real on logit 0 plus feature matching."""
    adversarial = F.binary_cross_entropy_with_logits(
        fake_logits[:, 0], torch.zeros_like(fake_logits[:, 0])
    )
    matching = feature_matching(real_features, fake_features, reduction="mean")
    return {"g_loss": adversarial + matching, "g_adv": adversarial, "g_fm": matching}


def klogit_d_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Salimans et al.'s D loss with K logits and the fake logit fixed at 0.

    With log Z = logsumexp_k l_k: -log D(x) = softplus(-log Z(x)) and
    -log(1 - D(G(z))) = softplus(log Z(G(z))).
    """
    supervised = masked_mean(F.cross_entropy(real_logits, labels, reduction="none"), mask)
    real = F.softplus(-real_logits.logsumexp(1)).mean()
    fake = F.softplus(fake_logits.logsumexp(1)).mean()
    return {"d_loss": supervised + real + fake, "d_sup": supervised, "d_real": real, "d_fake": fake}


def klogit_g_loss(
    fake_logits: torch.Tensor, real_features: torch.Tensor, fake_features: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Salimans et al.'s G loss for semi-supervised learning: feature matching alone."""
    matching = feature_matching(real_features, fake_features, reduction="mean")
    return {"g_loss": matching, "g_fm": matching}


def klogit_prob_real(logits: torch.Tensor) -> torch.Tensor:
    """D(x) = Z / (Z + 1) = sigmoid(log Z) for K logits with the fake logit at 0."""
    return torch.sigmoid(logits.logsumexp(1))


D_LOSSES = {"eleven": eleven_class_d_loss, "klogit": klogit_d_loss}
G_LOSSES = {"eleven": eleven_class_g_loss, "klogit": klogit_g_loss}
