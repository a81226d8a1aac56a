"""The losses of the original GAN game (Goodfellow et al., 2014), on D's logits.

D returns a logit l(x); D(x) = sigmoid(l(x)). Working on logits keeps
log D(x) = logsigmoid(l) and log(1 - D(x)) = logsigmoid(-l) finite where a
probability would round to 0 or 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of sigmoid(logits) against a constant label."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def value_function(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))], estimated on a batch."""
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on D's logits for generated images.

    ``non_saturating``: -E log D(G(z)), what the Keras example minimises (BCE with
    target 1). ``saturating``: E log(1 - D(G(z))), the minimax game's own term,
    whose gradient vanishes while D confidently rejects the fakes.
    """
    if kind == "non_saturating":
        return -F.logsigmoid(fake_logits).mean()
    if kind == "saturating":
        return F.logsigmoid(-fake_logits).mean()
    raise ValueError(f"generator loss must be 'non_saturating' or 'saturating', got {kind!r}")


def feature_matching(
    real_features: torch.Tensor, fake_features: torch.Tensor, reduction: str = "sum"
) -> torch.Tensor:
    """Feature matching (Salimans et al., 2016): ||E_x f(x) - E_z f(G(z))||^2.

    ``real_features`` and ``fake_features`` are (N, ...) batches of D's features;
    the real ones are a target, so no gradient flows into them. ``reduction``:
    ``"sum"`` over the features (the squared norm, as in the paper) or ``"mean"``
    (``tf.reduce_mean``, as the semi-supervised source code takes it).
    """
    gap = real_features.detach().flatten(1).mean(0) - fake_features.flatten(1).mean(0)
    if reduction == "sum":
        return gap.pow(2).sum()
    if reduction == "mean":
        return gap.pow(2).mean()
    raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
