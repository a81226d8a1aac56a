import math

import pytest
import torch

from ganbook.core.losses import feature_matching as feature_matching_loss
from ganbook.dcgan.techniques import MinibatchDiscrimination


def test_feature_matching_loss_by_hand():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]], requires_grad=True)  # mean (1, 1)
    loss = feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx(1.0**2 + 2.0**2)
    loss.backward()
    # d/d fake_i of ||m_r - mean(fake)||^2 = -2 (m_r - m_f) / N for every sample i
    assert torch.allclose(fake.grad, torch.tensor([[-1.0, -2.0], [-1.0, -2.0]]))


def test_feature_matching_is_zero_for_equal_means_and_flattens_maps():
    real = torch.randn(6, 3, 2, 2)
    shuffled = real[torch.randperm(6)]
    assert feature_matching_loss(real, shuffled).item() == pytest.approx(0.0, abs=1e-10)


def test_feature_matching_sends_no_gradient_into_the_real_features():
    real = torch.randn(4, 5, requires_grad=True)
    feature_matching_loss(real, torch.randn(4, 5, requires_grad=True)).backward()
    assert real.grad is None


def _identity_layer(kernels: int = 1) -> MinibatchDiscrimination:
    """A layer whose every row b is M_{i,b} = f(x_i): T[a, b, c] = 1 if a == c."""
    layer = MinibatchDiscrimination(in_features=2, kernels=kernels, dims=2)
    with torch.no_grad():
        layer.T.zero_()
        for b in range(kernels):
            layer.T[:, b, :] = torch.eye(2) * (b + 1)
    return layer


def test_minibatch_discrimination_by_hand():
    layer = _identity_layer(kernels=2)
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    # L1 distances with M_{i,0} = f_i: d01 = 1, d02 = 2, d12 = 3; row 1 doubles them.
    e = math.exp
    expected_row0 = [e(-1) + e(-2), e(-1) + e(-3), e(-2) + e(-3)]
    expected_row1 = [e(-2) + e(-4), e(-2) + e(-6), e(-4) + e(-6)]
    out = layer(f)
    assert out.shape == (3, 2 + 2)
    assert torch.equal(out[:, :2], f)  # the features pass through unchanged
    assert torch.allclose(out[:, 2], torch.tensor(expected_row0))
    assert torch.allclose(out[:, 3], torch.tensor(expected_row1))


def test_a_collapsed_batch_is_maximally_close():
    layer = MinibatchDiscrimination(in_features=8, kernels=4, dims=3)
    copies = torch.randn(1, 8).repeat(5, 1)
    # every other sample is at distance 0: o_b = N - 1, never counting the sample itself
    assert torch.allclose(layer.closeness(copies), torch.full((5, 4), 4.0))
    spread = torch.randn(5, 8) * 10
    assert layer.closeness(spread).max() < 1.0


def test_minibatch_discrimination_shapes_gradients_and_init():
    layer = MinibatchDiscrimination(in_features=400, kernels=100, dims=5)
    assert layer.T.shape == (400, 100, 5)
    assert layer.T.std().item() == pytest.approx(400**-0.5, rel=0.05)
    f = torch.randn(7, 4, 10, 10)  # feature maps are flattened to A = 400
    out = layer(f)
    assert out.shape == (7, 500)
    out[:, 400:].sum().backward()
    assert layer.T.grad is not None and layer.T.grad.abs().sum() > 0
    assert "B=100" in repr(layer)
    with pytest.raises(ValueError):
        MinibatchDiscrimination(10, kernels=0)
