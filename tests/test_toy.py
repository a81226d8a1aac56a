"""Chapter 5's toy mixtures: data, metrics, training and the per-epoch scores."""

import numpy as np
import pytest
import torch

from ganbook import selection as toy
from ganbook.core import checkpoint

GRID = toy.MIXTURES["grid25"]


def test_the_grid_is_5x5_with_means_2_apart():
    assert GRID.k == 25 and GRID.dim == 2 and GRID.std == 0.05
    assert sorted(set(GRID.means[:, 0])) == [-4, -2, 0, 2, 4]
    assert toy.MIXTURES["mog1d"].means.ravel().tolist() == [-3, -1, 1, 3]


def test_real_data_scores_as_real_data():
    x = GRID.sample(20_000, torch.Generator().manual_seed(0))
    scores = toy.evaluate(GRID, x)
    assert scores["modes"] == scores["modes_any"] == 25
    # P(chi^2_2 <= 9) = 1 - exp(-4.5) = 0.9889 of the points lie within 3 std
    assert scores["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.005)
    assert scores["js"] < 0.002


def test_one_mode_and_stray_points_score_badly():
    one = torch.zeros(1000, 2) + 0.01
    scores = toy.evaluate(GRID, one)
    assert scores["modes"] == scores["modes_any"] == 1 and scores["high_quality"] == 1.0
    assert scores["js"] > 0.5
    stray = torch.full((1000, 2), 1.0)  # halfway between modes
    assert toy.evaluate(GRID, stray) == {
        "modes": 0,
        "modes_any": 0,
        "high_quality": 0.0,
        "share_gap": pytest.approx(0.04),
        "js": pytest.approx(toy.js_divergence(GRID.cell_probs(), np.r_[np.zeros(25), 1.0])),
    }


def test_the_two_mode_rules_differ_on_a_rare_mode():
    # 996 points on one mode, 4 on another: a fair share would be 500 each, so
    # the book's rule (a fifth of it, 100) sees one mode, the paper's rule two
    x = torch.zeros(1000, 2)
    x[-4:] = torch.tensor([4.0, 4.0])
    scores = toy.evaluate(GRID, x)
    assert (scores["modes"], scores["modes_any"]) == (1, 2)
    # the empty modes' shares are 0 against a weight of 0.04; the full one's 0.996
    assert scores["share_gap"] == pytest.approx(0.996 - 0.04)


def test_r1_penalty_is_the_squared_gradient_norm_on_real_data():
    # D~(x) = w . x has gradient w everywhere: E ||grad||^2 = ||w||^2
    D = torch.nn.Linear(2, 1, bias=True)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, -4.0]]))
    penalty = toy.r1_penalty(D, torch.randn(7, 2))
    assert penalty.item() == pytest.approx(25.0)
    penalty.backward()  # differentiable in D's weights: d/dw ||w||^2 = 2w
    assert torch.allclose(D.weight.grad, torch.tensor([[6.0, -8.0]]))


def test_a_negative_r1_weight_is_refused():
    with pytest.raises(ValueError, match="r1 must be a finite number of at least 0"):
        toy.config_for("smoke", r1=-0.1)


def test_js_divergence_hand_computed():
    # p = (1, 0), q = (0, 1): m = (1/2, 1/2), JS = log 2
    assert toy.js_divergence([1, 0], [0, 1]) == pytest.approx(np.log(2))
    assert toy.js_divergence([0.5, 0.5], [0.5, 0.5]) == 0.0


def test_log_prob_integrates_to_one():
    mog = toy.MIXTURES["mog1d"]
    xs = np.linspace(-5, 5, 20001)
    assert np.trapezoid(np.exp(mog.log_prob(xs[:, None])), xs) == pytest.approx(1.0, abs=1e-4)


def test_networks_are_four_layers_of_100_relu():
    models = toy.build(toy.ToyConfig(task="grid25").to_dict())
    hidden = [m for m in models["G"].net if isinstance(m, torch.nn.Linear)][:-1]
    assert [m.out_features for m in hidden] == [100] * 4
    assert models["G"](torch.zeros(3, 2)).shape == (3, 2)
    assert models["D"](torch.zeros(3, 2)).shape == (3,)


def test_training_keeps_snapshots_and_scores_each_method(tmp_path):
    config = toy.config_for("smoke", task="grid25", steps=5, hidden=8, snapshot_every=2)
    run = toy.train(config, quiet=True)
    assert sorted(run.extra["snapshots"]) == [0, 2, 4, 5]
    assert [row["step"] for row in run.log] == [2, 4, 5]
    assert all(np.isfinite(row["d_loss"]) for row in run.log)
    loaded = checkpoint.load(checkpoint.save(run, tmp_path / "toy.pt"), "cpu")
    G, D = toy.at_step(loaded, 5)
    assert torch.equal(G(torch.ones(1, 2)), run["G"].cpu()(torch.ones(1, 2)))
    with pytest.raises(KeyError, match="no snapshot at step 3; the run kept steps 0, 2, 4, 5"):
        toy.at_step(loaded, 3)
    table = toy.score_run(loaded, n=50, K=5, steps=[5], burn_in=200)
    assert list(table.method) == list(toy.METHODS)
    assert (table.samples[table.method != "DRS (no gamma)"] == 50).all()
    assert table.set_index("method").loc["MH-GAN", "proposals_per_sample"] == 5


def test_scores_with_a_refined_discriminator_as_well():
    config = toy.config_for("smoke", task="mog1d", steps=4, hidden=8, snapshot_every=4)
    run = toy.train(config, quiet=True)
    table = toy.score_run(run, n=40, K=3, burn_in=100, refine=5, methods=("GAN", "MH-GAN"))
    assert list(zip(table.D, table.method, strict=True)) == [
        ("as trained", "GAN"),
        ("as trained", "MH-GAN"),
        ("refined", "GAN"),
        ("refined", "MH-GAN"),
    ]
    # the generator's own samples do not depend on D; MH-GAN's do
    gan = table[table.method == "GAN"]
    assert gan.js.nunique() == 1
    # refined on fresh points, apart from the held-out ones
    assert not torch.equal(toy.fresh_real(config, 5), toy.held_out(config, 5, seed=config.seed))


def test_bad_task_is_a_clear_error():
    with pytest.raises(ValueError, match="task must be one of"):
        toy.config_for(task="spiral")
