import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganbook.bayesian import divergence, synthetic


def test_data_is_the_original_synth_dataset():
    data = synthetic.make_data(100)
    assert data.X.shape == (10_000, 100) and data.x_dim == 100
    # standardised feature by feature
    assert np.allclose(data.X.mean(0), 0, atol=1e-10) and np.allclose(data.X.std(0), 1)
    # the original's draws: NumPy's legacy generator seeded 1234, per cluster mean * 5,
    # A * 5 (x_dim x 2), then 1,000 points A (z + mu)
    rng = np.random.RandomState(1234)
    mu, A = rng.randn(2) * 5, rng.randn(100, 2) * 5
    first = (rng.randn(1000, 2) + mu) @ A.T
    raw_mean, raw_std = _raw_moments(100)
    assert np.allclose(data.X[:1000], (first - raw_mean) / raw_std)
    assert np.bincount(data.clusters).tolist() == [1000] * 10
    # each cluster lies on a 2-D plane through its mean
    centred = data.X[:1000] - data.X[:1000].mean(0)
    assert np.linalg.matrix_rank(centred, tol=1e-6) == 2


def _raw_moments(x_dim):
    rng = np.random.RandomState(1234)
    parts = []
    for _ in range(10):
        mu, A = rng.randn(2) * 5, rng.randn(x_dim, 2) * 5
        parts.append((rng.randn(1000, 2) + mu) @ A.T)
    raw = np.concatenate(parts)
    return raw.mean(0), raw.std(0)


def test_bad_x_dim_is_refused():
    with pytest.raises(ValueError, match="x_dim must be at least 2"):
        synthetic.make_data(1)


def test_learning_rate_schedule():
    # lr * exp(-3 min(1, t * batch / N)): full at 0, e^-1.5 halfway through an epoch,
    # e^-3 from one epoch (t = N / batch) on
    assert synthetic.learning_rate(0, 1e-2, 64, 10_000) == pytest.approx(1e-2)
    assert synthetic.learning_rate(78, 1e-2, 64, 9984) == pytest.approx(1e-2 * math.exp(-1.5))
    assert synthetic.learning_rate(157, 1e-2, 64, 10_000) == pytest.approx(1e-2 * math.exp(-3))
    assert synthetic.learning_rate(5000, 1e-2, 64, 10_000) == pytest.approx(1e-2 * math.exp(-3))


def test_networks_match_the_original():
    G = synthetic.generator_net(10, 100)
    D = synthetic.discriminator_net(100)
    assert [tuple(p.shape) for p in G.parameters()] == [(1000, 10), (1000,), (100, 1000), (100,)]
    assert [tuple(p.shape) for p in D.parameters()] == [(1000, 100), (1000,), (2, 1000), (2,)]
    assert G[1].negative_slope == 0.2 and D[1].negative_slope == 0.2
    assert 0.015 < G[0].weight.std().item() < 0.025  # N(0, 0.02)
    assert torch.all(D[0].bias == 0)
    assert G(torch.zeros(3, 10)).shape == (3, 100) and D(torch.zeros(3, 100)).shape == (3, 2)


@pytest.mark.parametrize(
    "cov",
    [
        [[4.0, 0.3], [0.3, 1.0]],  # wide: the matrix-product path
        [[4.0, 3.0], [3.0, 2.34]],  # strongly correlated: the row-by-row path
        [[1e-4, 0.0], [0.0, 4e-4]],  # very narrow
    ],
)
def test_kde_on_grid_equals_scipy(cov):
    rng = np.random.RandomState(0)
    points = rng.multivariate_normal([1.0, -0.5], cov, size=300)
    gx, gy = np.arange(-6, 7, 0.1), np.arange(-5, 4, 0.1)
    fast = divergence.kde_on_grid(points, gx, gy)
    space = np.stack([g.ravel() for g in np.meshgrid(gx, gy)])
    reference = stats.gaussian_kde(points.T)(space).reshape(len(gy), len(gx))
    assert fast.shape == reference.shape
    assert np.allclose(fast, reference, rtol=1e-9, atol=1e-14)


def test_js_divergence_of_mass_vectors():
    p = np.array([0.5, 0.5, 0.0, 0.0])
    assert divergence.js_divergence(p, p) == pytest.approx(0.0, abs=1e-9)
    q = np.array([0.0, 0.0, 0.25, 0.75])
    assert divergence.js_divergence(p, q) == pytest.approx(math.log(2), abs=1e-8)
    # half the mass shared: by hand, KL(p||m) = KL(q||m) = 0.5 log(2) + 0 ... = 0.5 log 2
    q = np.array([0.5, 0.0, 0.5, 0.0])
    assert divergence.js_divergence(p, q) == pytest.approx(0.5 * math.log(2), abs=1e-8)


def test_js_estimate_of_the_data_with_itself_is_about_zero():
    data = synthetic.make_data(20)
    estimator = divergence.JSEstimator(data.X)
    assert estimator.p.sum() == pytest.approx(1.0)
    rng = np.random.RandomState(0)
    fake = data.X[rng.choice(len(data), 6400, replace=False)]
    assert estimator(fake) < 0.01
    assert estimator(data.X) < 1e-6


def test_js_estimate_of_far_apart_blobs_is_about_log_2():
    rng = np.random.RandomState(0)
    real = rng.randn(2000, 5)
    estimator = divergence.JSEstimator(real)
    far = rng.randn(2000, 5) + 100.0
    assert estimator(far) == pytest.approx(math.log(2), abs=0.01)
    # a blob inside the grid but clear of the data: also near log 2
    near = rng.randn(2000, 5) * 0.3 + estimator.pca.inverse_transform([[3.5, 0.0]])
    apart = estimator(near)
    assert 0.6 < apart <= math.log(2) + 1e-9


def test_mode_dropping_raises_the_js():
    data = synthetic.make_data(20)
    estimator = divergence.JSEstimator(data.X)
    rng = np.random.RandomState(1)
    all_modes = data.X[rng.choice(len(data), 3000, replace=False)]
    half = data.X[data.clusters < 5]
    one = data.X[data.clusters == 0]
    scores = [estimator(x) for x in (all_modes, half, one)]
    assert scores[0] < scores[1] < scores[2] < math.log(2)


def test_every_run_is_scored_on_the_same_number_of_points():
    config = synthetic.SynthConfig(x_dim=6, z_dim=3, hidden=8, numz=3).validate()
    G = synthetic.build(config.to_dict())["G"]
    gen = torch.Generator().manual_seed(0)
    for total in (640, 100, 7):
        assert synthetic.generate_shared([G], total, 3, gen).shape == (total, 6)
    # two kept stacks of 3 generators: 6 generators share the points
    points = synthetic.generate_shared([G, G], 600, 3, gen)
    assert points.shape == (600, 6)


def run(**overrides):
    fields = {"x_dim": 6, "z_dim": 3, "hidden": 16, "numz": 2, "train_iter": 20}
    fields |= {"eval_every": 10, "eval_points": 200, "burn_in": 5, "keep_from": 10}
    return synthetic.train(synthetic.SynthConfig(**fields, **overrides), "cpu", quiet=True)


def test_samples_are_kept_along_the_chain_and_scored_together():
    result = run(keep_every=5)
    first, last = result.log
    assert first["kept"] == 0 and math.isnan(first["js_chain"])
    assert last["kept"] == 2 and 0 <= last["js_chain"] <= math.log(2) + 1e-9
    assert [e["phase"] for e in result.log] == ["sghmc", "sghmc"]
    assert math.isnan(run(keep_every=0).log[-1]["js_chain"])


def test_the_original_recipe_and_the_noiseless_sampler_differ_from_sghmc():
    sghmc, cold = run(), run(temperature=0.0)
    original = run(sampler="original")
    assert [e["phase"] for e in original.log] == ["adam", "adam"]
    weights = [r["G"].stacked[0].detach() for r in (sghmc, cold, original)]
    assert not torch.allclose(weights[0], weights[1])
    assert not torch.allclose(weights[0], weights[2])
    with pytest.raises(ValueError, match="sampler must be one of"):
        synthetic.SynthConfig(sampler="adam").validate()
