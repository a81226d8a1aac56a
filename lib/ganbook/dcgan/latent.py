"""Walking in the latent space: paths between two noise vectors z_0 and z_1.

DCGAN (Radford et al., 2016, section 6.1) shows that moving along a line in
z changes the image smoothly, with no sharp jumps: a sign that G has learned
a representation rather than memorised images. Two paths:

``lerp``   z(t) = (1 - t) z_0 + t z_1, the straight line of the DCGAN paper;
``slerp``  z(t) = sin((1 - t) w) / sin(w) z_0 + sin(t w) / sin(w) z_1 with
           cos w = z_0 . z_1 / (|z_0| |z_1|), the great circle. In 100
           dimensions a draw from N(0, I) has norm close to 10, while the middle
           of a straight line between two draws has norm close to 10 / sqrt(2):
           slerp keeps the path where G was trained (White, 2016).
"""

from __future__ import annotations

import torch


def lerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` points on the straight line from z0 to z1, ends included: (steps, d)."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` points on the great circle from z0 to z1, ends included: (steps, d)."""
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega.abs() < 1e-6:
        return lerp(z0, z1, steps)
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def interpolate(
    z0: torch.Tensor, z1: torch.Tensor, steps: int, path: str = "slerp"
) -> torch.Tensor:
    """Points between z0 and z1 along ``path`` (``"lerp"`` or ``"slerp"``)."""
    paths = {"lerp": lerp, "slerp": slerp}
    if path not in paths:
        raise ValueError(f"path must be 'lerp' or 'slerp', got {path!r}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two ends), got {steps}")
    return paths[path](z0, z1, steps)
