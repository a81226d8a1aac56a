from functools import partial

import pytest
import torch
from torch import nn

from ganbook.cli import train as train_cli
from ganbook.core import checkpoint
from ganbook.core.parallel import side_by_side
from ganbook.core.settings import seed_everything
from ganbook.dcgan import conditional
from ganbook.metrics import get_evaluator


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_published_shapes_give_their_parameter_counts():
    # the weight shapes of train_cond_dcgan.py, none of them with a bias
    g_shapes = [
        (100 + 10, 1024),
        (1024 + 10, 128 * 7 * 7),
        (128 + 10, 64, 5, 5),
        (64 + 10, 1, 5, 5),
    ]
    d_shapes = [(64, 1 + 10, 5, 5), (128, 64 + 10, 5, 5), (128 * 7 * 7 + 10, 1024), (1024 + 10, 1)]
    G, D = conditional.build(conditional.config_for("paper").to_dict()).values()
    for net, shapes in ((G, g_shapes), (D, d_shapes)):
        assert _count(net) == sum(torch.Size(s).numel() for s in shapes)
        assert all(name.endswith("weight") for name, _ in net.named_parameters())
        norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
        assert norms and not any(m.affine for m in norms)


def test_weights_are_normal_0_002():
    G = conditional.ConditionalGenerator()
    weight = G.dense2.weight.detach()
    assert abs(weight.mean().item()) < 1e-3
    assert weight.std().item() == pytest.approx(0.02, rel=0.02)


def test_the_label_reaches_both_players():
    torch.manual_seed(0)
    G = conditional.ConditionalGenerator(z_dim=8, dense=16, width=4).eval()
    D = conditional.ConditionalDiscriminator(dense=16, width=4).eval()
    z = torch.rand(10, 8) * 2 - 1
    threes, sevens = torch.full((10,), 3), torch.full((10,), 7)
    x = G(z, threes)
    assert x.shape == (10, 1, 28, 28) and x.abs().max() <= 1
    assert not torch.allclose(x, G(z, sevens))
    assert not torch.allclose(D(x, threes), D(x, sevens))
    # without labels, G draws every digit in turn
    assert torch.equal(G(z), G(z, conditional.balanced_labels(10)))
    assert conditional.balanced_labels(12).tolist() == [*range(10), 0, 1]


def test_the_control_is_the_same_network_told_nothing():
    torch.manual_seed(0)
    told = conditional.build(conditional.config_for("smoke").to_dict())
    blind = conditional.build(conditional.config_for("smoke", labels=False).to_dict())
    assert _count(told["G"]) == _count(blind["G"]) and _count(told["D"]) == _count(blind["D"])
    blind["G"].load_state_dict(told["G"].state_dict())
    blind["D"].load_state_dict(told["D"].state_dict())
    G, D = blind["G"].eval(), blind["D"].eval()
    z = torch.rand(10, G.z_dim) * 2 - 1
    threes, sevens = torch.full((10,), 3), torch.full((10,), 7)
    assert torch.equal(G(z, threes), G(z, sevens))
    assert not torch.equal(G(z, threes), told["G"].eval()(z, threes))
    x = G(z)
    assert torch.equal(D(x, threes), D(x, sevens))


def test_the_control_keeps_every_weight_in_training():
    # every label input is a tenth, so no weight is left to weight decay alone
    config = conditional.config_for("smoke", labels=False, steps=1, batch_size=4)
    run = conditional.train(config, device="cpu", quiet=True)
    seed_everything(config.seed)
    fresh = conditional.build(config.to_dict())
    for name in ("G", "D"):
        for p, q in zip(fresh[name].parameters(), run[name].parameters(), strict=True):
            label_part = (p - q).abs()
            assert label_part.min() > 0  # Adam moved every single weight


def test_learning_rate_holds_then_falls_to_zero():
    config = conditional.config_for("smoke", steps=100, lr=1e-3)
    rates = [conditional.learning_rate(config, step) for step in (0, 50, 75, 99)]
    assert rates == pytest.approx([1e-3, 1e-3, 5e-4, 2e-5])
    flat = conditional.config_for("smoke", steps=100, lr=1e-3, decay=False)
    assert conditional.learning_rate(flat, 99) == 1e-3


@pytest.mark.parametrize(
    "field, value, message",
    [("weight_decay", -1e-5, "weight_decay"), ("beta1", 1.0, "beta1"), ("dense", 0, "dense")],
)
def test_bad_settings_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        conditional.config_for("smoke", **{field: value})


def test_draw_is_balanced_reproducible_and_checks_its_labels():
    G = conditional.ConditionalGenerator(z_dim=8, dense=16, width=4)
    a, b = conditional.draw(G, 30, seed=1), conditional.draw(G, 30, seed=1)
    assert a.shape == (30, 1, 28, 28) and torch.equal(a, b)
    assert not torch.equal(a, conditional.draw(G, 30, seed=2))
    assert G.training  # eval mode only while drawing
    fives = conditional.draw(G, 30, seed=1, labels=torch.full((30,), 5))
    assert not torch.equal(a, fives)
    with pytest.raises(ValueError, match="one label per image"):
        conditional.draw(G, 30, labels=torch.zeros(20, dtype=torch.long))


def test_training_moves_both_players_reproducibly():
    config = conditional.config_for("smoke", steps=4, sample_every=2)
    calls = []

    def monitor(G):
        calls.append(1)
        return {"FID": 1.0}

    a = conditional.train(config, device="cpu", monitor=monitor, quiet=True)
    b = conditional.train(config, device="cpu", quiet=True)
    seed_everything(config.seed)  # as train() does before building the players
    fresh = conditional.build(config.to_dict())
    assert len(a.log) == 4 and sorted(a.extra["samples"]) == [0, 2, 4]
    assert a.extra["samples"][4].shape == (100, 1, 28, 28)
    assert [e["g_loss"] for e in a.log] == [e["g_loss"] for e in b.log]
    assert len(calls) == 3 and a.extra["monitor"][0] == {"step": 0, "FID": 1.0}
    for name in ("G", "D"):
        assert fresh[name].state_dict().keys() == a[name].state_dict().keys()
        moved = [
            not torch.equal(p, q)
            for p, q in zip(fresh[name].parameters(), a[name].parameters(), strict=True)
        ]
        assert any(moved)


def test_trained_once_then_loaded(isolated_cache, monkeypatch):
    monkeypatch.setitem(conditional.SCALE_SETTINGS["smoke"], "steps", 3)
    first = conditional.trained_conditional("smoke")
    second = conditional.trained_conditional("smoke")
    assert first.log == second.log and len(first.log) == 3
    assert len(list(isolated_cache.glob("cdcgan-smoke-*.pt"))) == 1
    assert {"IS", "FID", "classes", "max_share", "unsure"} <= set(first.extra["monitor"][-1])


def test_side_by_side_gives_the_models_of_training_in_turn(isolated_cache, monkeypatch):
    get_evaluator("smoke", "cpu")  # the classifier both runs share, trained once
    tasks = [partial(conditional.trained_conditional, "smoke", seed) for seed in (0, 1)]
    before = set(isolated_cache.glob("cdcgan-smoke-*.pt"))
    runs = side_by_side(tasks, device="cpu")
    assert len(set(isolated_cache.glob("cdcgan-smoke-*.pt")) - before) == 2
    for seed, run in zip((0, 1), runs, strict=True):
        alone = conditional.train(conditional.config_for("smoke", seed=seed), "cpu", quiet=True)
        assert [e["d_loss"] for e in run.log] == [e["d_loss"] for e in alone.log]
    assert runs[0].log != runs[1].log


def test_cli_trains_the_conditional_dcgan(tmp_path):
    out = tmp_path / "run"
    assert train_cli.main(["cdcgan", "--scale", "smoke", "--steps", "2", "--out", str(out)]) == 0
    loaded = checkpoint.load(out / "model.pt", device="cpu")
    assert loaded.kind == "cdcgan" and loaded.config["steps"] == 2
    assert {p.name for p in out.iterdir()} == {"model.pt", "log.csv", "samples.png", "run.json"}
