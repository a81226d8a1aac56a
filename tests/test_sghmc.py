import math

import pytest
import torch

from ganbook.bayesian.sghmc import SGHMC, gaussian_chains, minibatch_chains, noise_loss


def test_samples_a_known_gaussian_posterior():
    # 2,000 independent chains after 500 burn-in steps, pooled over the next 1,000 steps.
    # Tolerances: mean within 0.05, covariance within 0.05, about five standard errors.
    mu = torch.tensor([1.0, -2.0])
    sigma = torch.tensor([[1.0, 0.6], [0.6, 0.5]])
    samples = gaussian_chains(mu, sigma)
    assert samples.shape == (40 * 2000, 2)
    assert torch.allclose(samples.mean(0), mu, atol=0.05)
    assert torch.allclose(torch.cov(samples.T), sigma, atol=0.05)
    # at temperature 0 the chains settle at the mode instead
    cold = gaussian_chains(mu, sigma, temperature=0.0, chains=10)
    assert torch.allclose(cold[-10:], mu.expand(10, 2), atol=1e-3)


def test_without_noise_it_is_momentum_sgd():
    # SGHMC(lr=eta, alpha, T=0) must match torch.optim.SGD(lr=eta, momentum=1 - alpha)
    # step for step, on a real network's loss.
    torch.manual_seed(0)
    net_a = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    net_b = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    net_b.load_state_dict(net_a.state_dict())
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    sghmc = SGHMC(net_a.parameters(), lr=0.05, alpha=0.1, temperature=0.0)
    sgd = torch.optim.SGD(net_b.parameters(), lr=0.05, momentum=0.9)
    for _ in range(25):
        for net, opt in ((net_a, sghmc), (net_b, sgd)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            opt.step()
    for a, b in zip(net_a.parameters(), net_b.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    # and the velocity is minus the learning rate times SGD's momentum buffer
    first_a, first_b = next(net_a.parameters()), next(net_b.parameters())
    v = sghmc.state[first_a]["velocity"]
    assert torch.allclose(v, -0.05 * sgd.state[first_b]["momentum_buffer"], atol=1e-6)


def test_injected_noise_has_variance_two_alpha_eta():
    # With a zero gradient and a zero velocity, one step moves theta by n ~ N(0, 2 alpha eta T).
    theta = torch.zeros(200_000, requires_grad=True)
    theta.grad = torch.zeros_like(theta)
    SGHMC([theta], lr=0.02, alpha=0.3, temperature=0.5).step()
    assert theta.detach().var().item() == pytest.approx(2 * 0.3 * 0.02 * 0.5, rel=0.02)


def test_same_generator_same_chain():
    def chain(seed):
        theta = torch.ones(5, requires_grad=True)
        opt = SGHMC([theta], lr=0.1, generator=torch.Generator().manual_seed(seed))
        for _ in range(3):
            opt.zero_grad()
            (theta**2).sum().backward()
            opt.step()
        return theta.detach()

    assert torch.equal(chain(1), chain(1))
    assert not torch.equal(chain(1), chain(2))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": 0.0}, "learning rate must be positive"),
        ({"lr": 0.1, "alpha": 0.0}, r"alpha must be in \(0, 1\]"),
        ({"lr": 0.1, "alpha": 1.5}, r"alpha must be in \(0, 1\]"),
        ({"lr": 0.1, "temperature": -1.0}, "temperature must be 0 or more"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGHMC([torch.zeros(1, requires_grad=True)], **kwargs)


def test_original_noise_term_puts_noise_on_the_gradient():
    # d/dw sum(w * n) / scale = n / scale with n ~ N(0, noise_std^2)
    w = torch.zeros(100_000, requires_grad=True)
    noise_loss([w], noise_std=math.sqrt(2 * 0.01), scale=10.0).backward()
    assert w.grad.std().item() == pytest.approx(math.sqrt(0.02) / 10, rel=0.02)


def test_minibatch_chains_match_a_known_posterior_at_a_small_step():
    # y_i ~ N(theta, 1), prior N(0, 10^2): the exact posterior std is 1 / sqrt(N + 0.01).
    # At the synthetic run's sampling rate the minibatch noise widens the spread a little;
    # twenty times that rate widens it about twice (the sampler does not correct for it).
    states, mean, std = minibatch_chains(lr=5e-4, chains=200)
    assert std == pytest.approx((10_000 + 0.01) ** -0.5)
    assert states.mean().item() == pytest.approx(mean, abs=0.2 * std)
    assert 0.9 < states.std().item() / std < 1.4
    hot, _, _ = minibatch_chains(lr=1e-2, chains=200)
    assert hot.std().item() / std > 2.0
