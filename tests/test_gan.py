import math

import pytest
import torch
from torch import nn

from ganbook.core import losses
from ganbook.vanilla import gan


def test_shapes_and_ranges():
    G, D = gan.Generator(), gan.Discriminator()
    z = torch.randn(7, 100)
    images = G(z)
    assert images.shape == (7, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1
    assert D(images).shape == (7,)
    assert torch.all((D.prob(images) > 0) & (D.prob(images) < 1))


def test_architecture_matches_the_keras_example():
    G, D = gan.Generator(), gan.Discriminator()
    widths = [(m.in_features, m.out_features) for m in G.modules() if isinstance(m, nn.Linear)]
    assert widths == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    widths = [(m.in_features, m.out_features) for m in D.modules() if isinstance(m, nn.Linear)]
    assert widths == [(784, 512), (512, 256), (256, 1)]
    slopes = {m.negative_slope for m in G.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.2}
    # Keras Dense: zero bias, Glorot-uniform kernel bounded by sqrt(6 / (fan_in + fan_out))
    first = D.net[1]
    assert torch.all(first.bias == 0)
    assert first.weight.abs().max() <= math.sqrt(6 / (784 + 512))


def test_keras_batchnorm_momentum_mapping():
    bn = gan.keras_batchnorm(3)
    assert bn.momentum == pytest.approx(0.2) and bn.eps == pytest.approx(1e-3)
    x = torch.tensor([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
    bn.train()
    bn(x)
    # Keras: moving = 0.8 * moving + 0.2 * batch, starting from 0
    assert torch.allclose(bn.running_mean, 0.2 * x.mean(0))
    trap = gan.eps_trap_batchnorm(3)
    assert trap.eps == pytest.approx(0.8) and trap.momentum == pytest.approx(0.1)


def test_losses_against_hand_computed_values():
    logits = torch.tensor([0.0, math.log(3.0)])  # D = 0.5 and 0.75
    assert losses.bce(logits, 1.0).item() == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2)
    assert losses.bce(logits, 0.0).item() == pytest.approx(-(math.log(0.5) + math.log(0.25)) / 2)
    ns = losses.generator_loss(logits, "non_saturating").item()
    assert ns == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2)
    sat = losses.generator_loss(logits, "saturating").item()
    assert sat == pytest.approx((math.log(0.5) + math.log(0.25)) / 2)
    real = torch.tensor([math.log(3.0)])  # D(x) = 0.75
    fake = torch.tensor([-math.log(3.0)])  # D(G(z)) = 0.25
    assert losses.value_function(real, fake).item() == pytest.approx(2 * math.log(0.75))
    with pytest.raises(ValueError):
        losses.generator_loss(logits, "wasserstein")


def test_accuracy_is_keras_binary_accuracy():
    # three of four logits say "real" (> 0): right for target 1, wrong for target 0
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0])
    assert gan.accuracy(logits, 1.0) == 0.75
    assert gan.accuracy(logits, 0.0) == 0.25
    assert gan.accuracy(torch.tensor([0.0]), 1.0) == 0.0  # D(x) = 0.5 is not "real"


def _setup(**overrides):
    config = gan.config_for("smoke", batch_size=8, **overrides)
    G, D = gan.Generator(), gan.Discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
    data = torch.rand(32, 1, 28, 28) * 2 - 1
    return G, D, opt_g, opt_d, data, config


def test_frozen_discriminator_is_not_moved_by_the_generator_step():
    G, D, opt_g, opt_d, data, config = _setup()
    gen = torch.Generator().manual_seed(0)
    gan.train_step(G, D, opt_g, opt_d, data, config, gen)  # warm up Adam's state
    before = [p.detach().clone() for p in D.parameters()]
    g_before = [p.detach().clone() for p in G.parameters()]
    loss = gan.g_step(G, D, opt_g, opt_d, config, gen)
    assert all(torch.equal(a, b) for a, b in zip(before, D.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters(), strict=True))
    assert math.isfinite(loss)


def test_unfrozen_discriminator_moves_in_the_generator_step():
    G, D, opt_g, opt_d, _, config = _setup(freeze_d=False)
    before = [p.detach().clone() for p in D.parameters()]
    gan.g_step(G, D, opt_g, opt_d, config, torch.Generator().manual_seed(0))
    assert any(not torch.equal(a, b) for a, b in zip(before, D.parameters(), strict=True))


def test_training_is_reproducible_and_logs():
    config = gan.config_for("smoke", steps=6, sample_every=3, batch_size=8)
    data = torch.rand(40, 1, 28, 28) * 2 - 1
    a = gan.train(config, data=data, device="cpu", quiet=True)
    b = gan.train(config, data=data, device="cpu", quiet=True)
    assert len(a.log) == 6 and sorted(a.extra["samples"]) == [0, 3, 6]
    assert [e["g_loss"] for e in a.log] == [e["g_loss"] for e in b.log]
    assert all(math.isfinite(e["d_loss"]) and 0 <= e["d_acc"] <= 1 for e in a.log)


def test_save_load_round_trip(tmp_path):
    from ganbook.core import checkpoint

    config = gan.config_for("smoke", steps=2, sample_every=1, batch_size=8)
    trained = gan.train(config, data=torch.rand(16, 1, 28, 28) * 2 - 1, device="cpu", quiet=True)
    path = checkpoint.save(trained, tmp_path / "gan.pt")
    loaded = checkpoint.load(path, device="cpu")
    z = torch.randn(4, 100)
    assert loaded.kind == "gan" and loaded.config == trained.config
    assert torch.equal(gan.sample(loaded["G"], z), gan.sample(trained["G"], z))
    assert loaded.log == trained.log


class _ToyG(nn.Module):
    z_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, z):
        return self.net(z)


def test_a_tiny_gan_moves_towards_a_1d_gaussian():
    """The chapter's training step, on G and D for N(4, 0.5^2): the samples must move."""
    torch.manual_seed(0)
    G = _ToyG()
    D = nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Flatten(0))
    data = 4 + 0.5 * torch.randn(2000, 1)
    config = gan.config_for("smoke", batch_size=64, z_dim=4)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)

    def distance():
        with torch.no_grad():
            fake = G(torch.randn(2000, 4, generator=gen)).flatten().sort().values
        return (fake - data.flatten().sort().values).abs().mean().item()  # 1-D Wasserstein

    start = distance()
    for _ in range(1500):
        gan.train_step(G, D, opt_g, opt_d, data, config, gen)
    end = distance()
    assert start > 3.0
    assert end < 0.5, f"Wasserstein distance went from {start:.2f} to {end:.2f}"


def test_cache_trains_once_then_loads(tmp_path, monkeypatch):
    from ganbook.core import checkpoint

    monkeypatch.setenv("GANBOOK_CACHE", str(tmp_path))
    calls = []
    config = gan.config_for("smoke", steps=1, sample_every=1, batch_size=8)
    data = torch.rand(16, 1, 28, 28) * 2 - 1

    def run():
        calls.append(1)
        return gan.train(config, data=data, device="cpu", quiet=True)

    first = checkpoint.cached("gan", "smoke", config.to_dict(), run, device="cpu")
    second = checkpoint.cached("gan", "smoke", config.to_dict(), run, device="cpu")
    assert len(calls) == 1
    assert second.log == first.log and len(list(tmp_path.glob("gan-smoke-*.pt"))) == 1
    other = checkpoint.cached("gan", "book", config.to_dict(), run, device="cpu")
    assert len(calls) == 2 and other.kind == "gan"


def test_g_steps_and_d_steps_set_the_schedule():
    G, D, opt_g, opt_d, data, config = _setup(d_steps=2, g_steps=3)
    gan.train_step(G, D, opt_g, opt_d, data, config, torch.Generator().manual_seed(0))
    g_param, d_param = next(G.parameters()), next(D.parameters())
    assert opt_g.state[g_param]["step"].item() == 3
    assert opt_d.state[d_param]["step"].item() == 2 * 2  # a real and a fake update each


def test_best_response_trains_g_alone_against_the_frozen_d():
    config = gan.config_for("smoke", steps=4, sample_every=2, batch_size=8)
    data = torch.rand(40, 1, 28, 28) * 2 - 1
    run = gan.train(config, data=data, device="cpu", quiet=True)
    g_before = [p.detach().clone() for p in run["G"].parameters()]
    d_before = [p.detach().clone() for p in run["D"].parameters()]
    G, chase = gan.best_response(run, steps=3, sample_every=3, quiet=True, monitor=lambda g: {})
    assert sorted(chase.samples) == [0, 3] and len(chase.log) == 3 and len(chase.monitor) == 2
    # the chase starts from the run's generator and moves only its own copy
    assert torch.equal(chase.samples[0], run.extra["samples"][4])
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(g_before, run["G"].parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(d_before, run["D"].parameters(), strict=True))
