import math

import pytest
import torch
from torch import nn

from ganbook.bayesian import posterior as bg
from ganbook.bayesian.speed import Looped, optimizer_factory
from ganbook.bayesian.synthetic import SynthConfig, build, sample_z


def small_config(**overrides):
    return SynthConfig(x_dim=6, z_dim=3, hidden=16, **overrides).validate()


def test_stacked_equals_its_samples_one_by_one():
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(3, 5), nn.LeakyReLU(0.2), nn.Linear(5, 2)) for _ in range(4)]
    stack = bg.Stacked(models)
    x = torch.randn(4, 7, 3)
    expected = torch.stack([m(xi) for m, xi in zip(models, x, strict=True)])
    assert torch.allclose(stack(x), expected, atol=1e-6)
    for copy, model in zip(stack.unstack(), models, strict=True):
        assert torch.allclose(copy(x[0]), model(x[0]), atol=1e-6)
    with pytest.raises(ValueError, match="expected 4 inputs stacked"):
        stack(torch.randn(3, 7, 3))


def test_each_weight_sample_keeps_its_own_batchnorm_statistics():
    # The original shared BatchNorm between weight samples; stacked buffers do not.
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)) for _ in range(2)]
    stack = bg.Stacked(models)
    x = torch.stack([torch.randn(16, 2), torch.randn(16, 2) + 5.0])
    out = stack(x)
    expected = torch.stack([m(xi) for m, xi in zip(models, x, strict=True)])
    assert torch.allclose(out, expected, atol=1e-5)
    means = [stack.unstack()[k][1].running_mean for k in range(2)]
    assert torch.allclose(means[0], models[0][1].running_mean, atol=1e-6)
    assert torch.allclose(means[1], models[1][1].running_mean, atol=1e-6)
    assert not torch.allclose(means[0], means[1])


def test_prior_energy_uses_prior_std():
    stack = bg.Stacked([nn.Linear(2, 2) for _ in range(3)])
    squared = torch.stack([sum(p[k].pow(2).sum() for p in stack.stacked) for k in range(3)])
    for prior_std in (0.5, 1.0, 10.0):
        energy = bg.prior_energy(stack, prior_std)
        assert torch.allclose(energy, squared / (2 * prior_std**2))
    # its gradient is theta / prior_std^2: the prior pulls each weight back to 0
    bg.prior_energy(stack, 2.0).sum().backward()
    for p in stack.stacked:
        assert torch.allclose(p.grad, p.detach() / 4.0)
    with pytest.raises(ValueError, match="prior_std must be positive"):
        bg.prior_energy(stack, 0.0)


def test_posterior_energies_scale_and_prior():
    config = small_config(numz=2, num_mcmc=1)
    torch.manual_seed(0)
    models = build(config.to_dict())
    G, D = models["G"].double(), models["D"].double()  # energies of size N: keep precision
    real = torch.randn(8, 6, dtype=torch.float64)
    fake = G(sample_z(2, 8, 3, torch.Generator().manual_seed(0)).double()).detach()
    ml = bg.Posterior(100, 10, 1.0, ml=True)
    bayes_1 = bg.Posterior(100, 10, 1.0)
    bayes_2 = bg.Posterior(100, 10, 2.0)
    u_ml = ml.d_energy(D, real, fake)
    # ML: the plain mean loss -mean log D(x) - mean log(1 - D(G(z))) = U_d data term * n / N
    u_data = bayes_1.d_energy(D, real, fake) - bg.prior_energy(D, 1.0)
    assert torch.allclose(u_data, u_ml * 100, rtol=1e-10)
    # the prior term really uses prior_std
    gap = bayes_1.d_energy(D, real, fake) - bayes_2.d_energy(D, real, fake)
    squared = sum(p.pow(2).sum() for p in D.stacked)
    assert torch.allclose(gap, squared / 2 * (1 - 1 / 4), rtol=1e-10)
    # the generator's data term is scaled by gen_observed / n
    u_g_ml = ml.g_energy(G, D, fake)
    u_g = bayes_1.g_energy(G, D, fake) - bg.prior_energy(G, 1.0)
    assert torch.allclose(u_g, u_g_ml * 10, rtol=1e-10)


def test_energies_against_hand_computed_values():
    # D(x) = softmax(logits)[1]; logits (0, log 3) give D = 3/4, (log 3, 0) give 1/4
    real_logits = torch.tensor([[[0.0, math.log(3.0)]]])
    fake_logits = torch.tensor([[[math.log(3.0), 0.0]]])
    u = bg.discriminator_energy(real_logits, fake_logits, data_scale=10.0)
    assert u.item() == pytest.approx(-10 * (math.log(0.75) + math.log(0.75)))
    u_g = bg.generator_energy(fake_logits[:, None], data_scale=2.0)
    assert u_g.item() == pytest.approx(-2 * math.log(0.25))
    # K + 1 = 3 classes: D(x) is the probability of any real class
    logits = torch.tensor([0.0, 0.0, math.log(2.0)])
    assert bg.real_class_log_prob(logits).item() == pytest.approx(math.log(0.75))
    assert bg.fake_class_log_prob(logits).item() == pytest.approx(math.log(0.25))


def test_every_discriminator_sees_every_generator():
    fake = torch.arange(3 * 2, dtype=torch.float32).reshape(3, 2, 1)
    pooled = bg.pool_for_discriminators(fake, 4)
    assert pooled.shape == (4, 6, 1)
    assert torch.equal(pooled[2].flatten(), torch.arange(6, dtype=torch.float32))


@pytest.mark.parametrize("sampler", ["adam", "sghmc"])
@pytest.mark.parametrize("numz, num_mcmc", [(1, 1), (3, 1), (2, 2)])
def test_batched_training_equals_looped_training(sampler, numz, num_mcmc):
    config = small_config(numz=numz, num_mcmc=num_mcmc)
    torch.manual_seed(0)
    models = build(config.to_dict())
    G, D = models["G"], models["D"]
    posterior = bg.Posterior(100, 10, 1.0, ml=config.ml)
    # SGHMC without its noise (temperature 0): the noise is drawn in a different order
    if sampler == "adam":
        make = optimizer_factory("adam", 1e-2, 0.1)
    else:

        def make(params):
            return bg_sghmc(params)

    looped = Looped(G, D, posterior, make)
    opt_g, opt_d = make(list(G.parameters())), make(list(D.parameters()))
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        real = torch.randn(8, 6, generator=generator)
        z_d = sample_z(len(G), 8, 3, generator)
        z_g = sample_z(len(G), 8, 3, generator)
        bg.d_step(G, D, opt_d, posterior, real, z_d)
        bg.g_step(G, D, opt_g, posterior, z_g)
        looped.d_step(real, z_d)
        looped.g_step(z_g)
    for stack, copies in ((G, looped.generators), (D, looped.discriminators)):
        for k, model in enumerate(copies):
            for (name, p), stacked in zip(model.named_parameters(), stack.stacked, strict=True):
                assert torch.allclose(p, stacked[k], atol=1e-5), name


def bg_sghmc(params):
    from ganbook.bayesian.sghmc import SGHMC

    return SGHMC(params, lr=1e-3, alpha=0.1, temperature=0.0)


def test_wasserstein_critic_energy_and_gradient_penalty():
    scores_real = torch.tensor([[1.0, 3.0]])
    scores_fake = torch.tensor([[0.0, -1.0, 2.0, -1.0]])
    # scale * (n * mean f(fake) - sum f(real)) = 0.5 * (2 * 0 - 4)
    assert bg.critic_energy(scores_real, scores_fake, 0.5).item() == pytest.approx(-2.0)
    # a linear critic f(x) = w.x has gradient w everywhere: penalty (|w| - 1)^2 per point
    critic = nn.Sequential(nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        critic[0].weight.copy_(torch.tensor([[3.0, 4.0]]))
    stack = bg.Stacked([critic])
    penalty = bg.gradient_penalty(stack, torch.randn(5, 2), torch.randn(2, 5, 2))
    assert penalty.item() == pytest.approx(5 * (5.0 - 1.0) ** 2)


def test_wasserstein_training_runs_and_is_finite():
    config = small_config(numz=2, wasserstein=True, train_iter=20, eval_every=10, burn_in=10)
    from ganbook.bayesian.synthetic import train

    result = train(config, device="cpu", quiet=True)
    assert all(math.isfinite(entry["js"]) for entry in result.log)
    assert result["D"].stacked[-1].shape[1] == 1  # one critic output
