import numpy as np
import pytest
import torch

from ganbook import dcgan
from ganbook.data import subsets
from ganbook.dcgan import latent
from ganbook.metrics import probe


def test_balanced_subset_is_balanced_fixed_and_checked():
    labels = np.repeat(np.arange(10), 40)
    idx = subsets.balanced_subset(labels, per_class=10, seed=0)
    assert len(idx) == 100 and np.all(np.bincount(labels[idx]) == 10)
    assert np.array_equal(idx, subsets.balanced_subset(torch.from_numpy(labels), 10, seed=0))
    assert not np.array_equal(idx, subsets.balanced_subset(labels, 10, seed=1))
    assert np.all(np.diff(idx) > 0)
    with pytest.raises(ValueError, match="only 40 examples of class 0, 50 needed"):
        subsets.balanced_subset(labels, per_class=50)
    with pytest.raises(ValueError, match="hold 9 classes, not 10"):
        subsets.labelled_subset(labels[labels < 9], 20, seed=0)


def test_discriminator_features_pool_every_layer_to_a_4x4_grid():
    D = dcgan.Discriminator(width=8)
    D.train()
    images = torch.rand(7, 1, 28, 28) * 2 - 1
    features = probe.discriminator_features(D, images, batch=3)
    assert features.shape == (7, (8 + 16) * 16)
    assert D.training  # the mode is restored
    # the first block's 14x14 map, max-pooled to 4x4, is the first 8 * 16 numbers
    D.eval()
    first = torch.nn.functional.adaptive_max_pool2d(D.hidden(images)[0], 4)
    assert np.allclose(features[:, :128], first.flatten(1).detach().numpy(), atol=1e-6)
    assert probe.pixel_features(images).shape == (7, 784)


def test_linear_probe_separates_separable_data_and_not_noise():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (4, 20))
    y_train, y_test = np.repeat(np.arange(4), 10), np.repeat(np.arange(4), 50)
    x_train = centres[y_train] + rng.normal(0, 1, (40, 20))
    x_test = centres[y_test] + rng.normal(0, 1, (200, 20))
    assert probe.linear_probe(x_train, y_train, x_test, y_test) == 1.0
    noise = probe.linear_probe(rng.normal(size=(40, 20)), y_train, x_test, y_test)
    assert noise < 0.6


def test_lerp_and_slerp():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    line = latent.interpolate(z0, z1, 3, "lerp")
    assert torch.allclose(line, torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]))
    arc = latent.interpolate(z0, z1, 3)
    half = 2**-0.5
    assert torch.allclose(arc, torch.tensor([[1.0, 0.0], [half, half], [0.0, 1.0]]), atol=1e-6)
    assert torch.allclose(latent.slerp(z0, z1, 9).norm(dim=1), torch.ones(9), atol=1e-6)
    assert torch.allclose(latent.slerp(z0, 2 * z0, 3), latent.lerp(z0, 2 * z0, 3))
    with pytest.raises(ValueError, match="path"):
        latent.interpolate(z0, z1, 3, "spline")
    with pytest.raises(ValueError, match="steps"):
        latent.interpolate(z0, z1, 1)
