"""Two of the "Improved techniques for training GANs" (Salimans et al., 2016).

**Feature matching** (section 3.1; the loss is
:func:`ganbook.core.losses.feature_matching`, which chapter 3 shares). Instead of
maximising D's output, the generator matches the statistics of an intermediate layer f(x) of D:

    || E_{x ~ p_data} f(x) - E_{z ~ p_z(z)} f(G(z)) ||_2^2

D is trained as usual and so keeps looking for the features that tell real
from generated; G only has to match their means, a target that moves less
violently than D's verdict.

**Minibatch discrimination** (section 3.2). D sees each sample together with
the rest of its batch, so a batch of near-copies looks suspicious. With
f(x_i) in R^A the features of sample i, a tensor T in R^(A x B x C) gives the
matrix M_i = f(x_i) T in R^(B x C); for each of its B rows b,

    c_b(x_i, x_j) = exp(-|| M_{i,b} - M_{j,b} ||_L1)
    o(x_i)_b      = sum_{j != i} c_b(x_i, x_j)

and o(x_i) in R^B is appended to f(x_i) before D's output layer. The
reference code uses B = 100 rows of C = 5 numbers and leaves each sample's
distance to itself out of the sum, as here.
"""

from __future__ import annotations

import torch
from torch import nn


class MinibatchDiscrimination(nn.Module):
    """Append o(x_i) in R^B (closeness to the rest of the batch) to features in R^A.

    ``kernels`` is B (rows of M_i) and ``dims`` is C (numbers per row). T starts
    as N(0, 1/A), so each row of M_i starts with unit-scale entries, the scale
    that the reference code's weight-normalised T starts from.
    """

    def __init__(self, in_features: int, kernels: int = 100, dims: int = 5) -> None:
        super().__init__()
        if min(in_features, kernels, dims) < 1:
            raise ValueError("in_features, kernels and dims must all be at least 1")
        self.in_features, self.kernels, self.dims = in_features, kernels, dims
        self.T = nn.Parameter(torch.randn(in_features, kernels, dims) * in_features**-0.5)

    def closeness(self, f: torch.Tensor) -> torch.Tensor:
        """o(x_i)_b = sum_{j != i} exp(-||M_{i,b} - M_{j,b}||_L1), shape (N, B)."""
        M = (f @ self.T.view(self.in_features, -1)).view(-1, self.kernels, self.dims)
        rows = M.transpose(0, 1)  # (B, N, C): the b-th rows of all N samples
        l1 = torch.cdist(rows, rows, p=1)  # (B, N, N): ||M_{i,b} - M_{j,b}||_L1
        others = 1.0 - torch.eye(len(f), device=f.device, dtype=f.dtype)
        return (torch.exp(-l1) * others).sum(2).T

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        f = f.flatten(1)
        return torch.cat([f, self.closeness(f)], dim=1)

    def extra_repr(self) -> str:
        return f"A={self.in_features}, B={self.kernels}, C={self.dims}"
