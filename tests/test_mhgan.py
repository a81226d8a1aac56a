"""Chapter 5's selectors: exactness with the optimal D, the acceptance rules, calibration."""

import numpy as np
import pytest
import torch
from scipy import stats

from ganbook import selection as mhgan
from ganbook.selection.exact import data_cdf, exact_proposer, optimal_logit, real_logits

# Goodness of fit: the KS test of 2,000 samples against p_data must not reject at 1%.
N, ALPHA = 2000, 0.01


def test_the_ks_test_can_tell_p_G_from_p_data():
    x, _ = exact_proposer(0)(N)
    assert stats.kstest(x.numpy().ravel(), data_cdf).pvalue < ALPHA


def test_mh_with_the_optimal_d_samples_p_data():
    selection = mhgan.mh_select(
        exact_proposer(1), N, 20, real_logits(N, 2), torch.Generator().manual_seed(3)
    )
    assert selection.samples.shape == (N, 1)
    assert selection.proposals == N * 20 and selection.per_sample == 20
    assert stats.kstest(selection.samples.numpy().ravel(), data_cdf).pvalue > ALPHA


def test_drs_without_gamma_with_the_optimal_d_samples_p_data():
    selection = mhgan.drs(
        exact_proposer(4),
        N,
        burn_in=10_000,
        gamma_percentile=None,
        generator=torch.Generator().manual_seed(5),
    )
    assert len(selection) == N and selection.burn_in == 10_000
    # The envelope M = max p_data / p_G is about 1.9, so about 2 proposals per sample.
    assert 1.5 < selection.per_sample < 2.5
    assert stats.kstest(selection.samples.numpy().ravel(), data_cdf).pvalue > ALPHA


def test_drs_with_gamma_is_not_exact():
    selection = mhgan.drs(
        exact_proposer(4), N, gamma_percentile=95.0, generator=torch.Generator().manual_seed(5)
    )
    assert len(selection) == N
    assert stats.kstest(selection.samples.numpy().ravel(), data_cdf).pvalue < ALPHA


def test_rejection_sampling_with_the_true_envelope_samples_p_data():
    xs = torch.linspace(-4, 4, 2001)
    log_M = float(optimal_logit(xs).max())
    selection = mhgan.rejection_sample(
        exact_proposer(6), N, log_M, torch.Generator().manual_seed(7)
    )
    assert len(selection) == N
    assert stats.kstest(selection.samples.numpy().ravel(), data_cdf).pvalue > ALPHA


def test_drs_counts_proposals_up_to_the_last_sample_it_needs():
    # every proposal scores log M: the exact rule accepts all of them
    def propose(k):
        return torch.arange(k, dtype=torch.float64)[:, None], torch.zeros(k)

    selection = mhgan.drs(propose, 7, burn_in=10, gamma_percentile=None, batch=100)
    assert len(selection) == 7 and selection.proposals == 7
    assert torch.equal(selection.samples.ravel(), torch.arange(7, dtype=torch.float64))


@pytest.mark.parametrize(
    "d_current, d_proposal, expected",
    [
        (0.5, 0.8, 1.0),  # (1/0.5 - 1) / (1/0.8 - 1) = 1 / 0.25 = 4 -> 1
        (0.8, 0.5, 0.25),  # 0.25 / 1
        (0.6, 0.3, (1 / 0.6 - 1) / (1 / 0.3 - 1)),  # 0.6667 / 2.3333 = 0.2857
        (0.3, 0.3, 1.0),
        (0.9, 0.1, (1 / 0.9 - 1) / 9.0),  # 0.1111 / 9 = 0.01235
    ],
)
def test_mh_acceptance_matches_hand_computed_values(d_current, d_proposal, expected):
    alpha = mhgan.mh_acceptance(torch.tensor([d_current]), torch.tensor([d_proposal]))
    assert alpha.item() == pytest.approx(expected, rel=1e-6)


def _scripted(logits: list[float]) -> mhgan.Proposer:
    """Proposal k of every chain is the point k with logit ``logits[k]``."""
    calls = iter(range(len(logits)))

    def propose(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = next(calls)
        return torch.full((n, 1), float(k)), torch.full((n,), logits[k])

    return propose


def test_mh_takes_the_better_proposal_and_always_moves_up():
    # Scores rise: every proposal is accepted, so each chain ends on the last.
    selection = mhgan.mh_select(_scripted([-3.0, -2.0, -1.0, 0.0]), 5, 4, torch.full((5,), -5.0))
    assert torch.equal(selection.samples, torch.full((5, 1), 3.0))


def test_mh_restarts_from_the_first_generated_sample_when_nothing_was_accepted():
    # The real start scores far above every proposal, and the proposals fall:
    # nothing is accepted from the real start, and nothing after x_1 from x_1.
    init = torch.full((6,), 50.0)
    selection = mhgan.mh_select(_scripted([0.0, -60.0, -70.0]), 6, 3, init)
    assert torch.equal(selection.samples, torch.zeros(6, 1))


def test_mh_rejects_bad_arguments():
    with pytest.raises(ValueError, match="K must be at least 1"):
        mhgan.mh_select(_scripted([0.0]), 2, 0, torch.zeros(2))
    with pytest.raises(ValueError, match="one initial"):
        mhgan.mh_select(_scripted([0.0]), 2, 1, torch.zeros(3))


def test_drs_acceptance_without_gamma_is_the_ratio_over_m():
    logits = torch.tensor([0.0, np.log(0.5), np.log(0.1)])
    p = mhgan.drs_acceptance(logits, 0.0, eps=1e-12, gamma_percentile=None)
    assert p.numpy() == pytest.approx([1.0, 0.5, 0.1], abs=1e-6)


def test_drs_gamma_shifts_f_to_its_percentile():
    logits = torch.tensor([-6.0, -4.0, -2.0, -1.0])
    p = mhgan.drs_acceptance(logits, 0.0, gamma_percentile=100.0)
    assert p[-1].item() == pytest.approx(0.5)  # F - gamma = 0 at the top
    # Every proposal falls short of M here (all F < 0), so gamma < 0 and every
    # proposal is accepted more often than the exact rule would.
    exact = mhgan.drs_acceptance(logits, 0.0, gamma_percentile=None)
    assert torch.all(p > exact)


def test_z_is_small_for_calibrated_and_large_for_distorted_probabilities():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 5000)
    y = rng.uniform(size=5000) < p
    assert abs(mhgan.z_statistic(y, p)) < 3
    assert abs(mhgan.z_statistic(y, p**2)) > 10  # too low: Z large and positive
    assert mhgan.z_statistic(y, np.sqrt(p)) < -10  # too high


def test_isotonic_calibration_repairs_a_distorted_discriminator():
    rng = np.random.default_rng(1)
    true_logit = torch.from_numpy(rng.normal(0, 2, 8000))
    y = rng.uniform(size=8000) < torch.sigmoid(true_logit).numpy()
    raw = 3 * true_logit + 1  # over-confident and biased, but ranks the same
    fit, test = slice(0, 4000), slice(4000, None)
    real, fake = raw[fit][y[fit]], raw[fit][~y[fit]]
    calibrator = mhgan.IsotonicCalibrator().fit(real, fake)
    real_t, fake_t = raw[test][y[test]], raw[test][~y[test]]
    assert abs(mhgan.calibration_z(real_t, fake_t, None)) > 3
    assert abs(mhgan.calibration_z(real_t, fake_t, calibrator)) < 2.5
    # monotone: the calibrated logits keep D's ranking
    order = torch.argsort(raw[test])
    assert torch.all(torch.diff(calibrator(raw[test])[order]) >= 0)


def test_isotonic_blocks_match_scikit_learn_and_smoothing_keeps_them_below_one():
    rng = np.random.default_rng(2)
    real, fake = torch.from_numpy(rng.normal(1, 1, 300)), torch.from_numpy(rng.normal(-1, 1, 300))
    grid = torch.linspace(-5, 5, 501, dtype=torch.float64)
    plain = mhgan.IsotonicCalibrator(smooth=False).fit(real, fake)
    assert plain.prob(grid).numpy() == pytest.approx(plain.model.predict(grid.numpy()), abs=1e-12)
    assert plain.prob(torch.tensor([10.0])).item() == 1.0  # the top block holds only real points
    smooth = mhgan.IsotonicCalibrator().fit(real, fake)
    top = int((real > fake.max()).sum())  # real points above every generated one
    assert 0.5 < smooth.prob(torch.tensor([10.0])).item() <= (top + 1) / (top + 2)
    assert torch.all(torch.diff(smooth.prob(grid)) >= 0)
    assert smooth.prob(torch.tensor([-10.0])).item() > 0


def test_posterior_logit_averages_discriminator_samples_in_probability():
    from ganbook.bayesian import images as bd

    torch.manual_seed(0)
    models = bd.build(bd.config_for("smoke", numz=2, num_mcmc=1).to_dict())
    G, D = models["G"], models["D"]
    D.eval()
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    logits = D(x.expand(len(D), *x.shape))
    p_real = 1 - torch.softmax(logits, -1)[..., 0]  # each sample's D(x)
    mean = p_real.mean(0)
    expected = torch.log(mean) - torch.log1p(-mean)
    got = mhgan.posterior_logit(D, x)
    assert torch.allclose(got, expected.float(), atol=1e-4)
    propose = mhgan.posterior_proposer(G, D, torch.Generator().manual_seed(0))
    samples, scores = propose(7)
    assert samples.shape == (7, 1, 28, 28) and scores.shape == (7,)
    assert torch.isfinite(scores).all() and samples.abs().max() <= 1


def _bn_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    with torch.no_grad():  # training left running averages far from the real data's
        model[1].running_mean.fill_(5.0)
        model[1].running_var.fill_(9.0)
    return model.eval()


def test_batchnorm_statistics_re_estimated_on_real_data():
    model = _bn_model()
    real = torch.randn(1000, 2) * 2 + 1
    fixed = mhgan.with_real_statistics(model, real)
    with torch.no_grad():
        features = model[0](real)
    # 4 chunks of 250, averaged: the mean is the overall mean, the variance
    # the average of the chunks' unbiased variances
    chunks = features.split(250)
    assert torch.allclose(fixed[1].running_mean, features.mean(0), atol=1e-5)
    var = torch.stack([c.var(0, unbiased=True) for c in chunks]).mean(0)
    assert torch.allclose(fixed[1].running_var, var, atol=1e-4)
    assert not fixed.training and not fixed[1].training
    # the model passed in is left as it was
    assert model[1].running_mean.eq(5.0).all() and model[1].running_var.eq(9.0).all()
    # scored in eval mode, real data now come out normalised
    with torch.no_grad():
        out = fixed(real)
    assert out.mean(0).abs().max() < 0.2 + model[1].bias.abs().max()


def test_a_discriminator_without_batchnorm_is_returned_as_it_is():
    plain = torch.nn.Linear(2, 1)
    assert mhgan.with_real_statistics(plain, torch.randn(10, 2)) is plain


def test_sample_select_refuses_an_unknown_batchnorm_choice():
    from ganbook.cli import sample
    from ganbook.core.checkpoint import Checkpoint

    ckpt = Checkpoint("dcgan", {}, {"G": torch.nn.Identity(), "D": _bn_model()}, [], {})
    with pytest.raises(ValueError, match="batchnorm must be one of real, saved"):
        sample.select(ckpt, "mh", 4, batchnorm="running")
