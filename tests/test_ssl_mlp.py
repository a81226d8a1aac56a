"""Salimans et al.'s MNIST MLP (chapter 3): networks, losses, averaging, training, loader, CLI."""

import math

import pytest
import torch
import torch.nn.functional as F

from ganbook import ssl as ssgan
from ganbook.cli import train
from ganbook.core import checkpoint
from ganbook.data.mnist import load_mnist
from ganbook.ssl import mlp


def _tiny_data():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(60, 1, 28, 28, generator=gen) * 2 - 1
    return (images, torch.arange(60) % 10), (images[:20], torch.arange(20) % 10)


def _tiny_config(**overrides):
    settings = {
        "labels": 20,
        "steps": 3,
        "batch_size": 10,
        "labelled_batch": 10,
        "init_images": 30,
        "average_rate": 0.5,
        "eval_every": 2,
    }
    return ssgan.config_for("smoke", **{"model": "mlp", **settings, **overrides})


def test_networks_follow_their_code():
    D = mlp.MLPDiscriminator()
    assert [(layer.theta.shape[1], layer.theta.shape[0]) for layer in D.hidden] == [
        (784, 1000),
        (1000, 500),
        (500, 250),
        (250, 250),
        (250, 250),
    ]
    assert D.out.theta.shape == (10, 250)
    assert D.input_noise.sigma == 0.3 and {n.sigma for n in D.noise} == {0.5}
    features, logits = D.eval()(torch.zeros(4, 1, 28, 28))
    assert features.shape == (4, 250) and logits.shape == (4, 10)
    assert (features >= 0).all()  # ReLU output, before the last noise layer
    G = mlp.MLPGenerator()
    z = G.noise(6, torch.Generator().manual_seed(0))
    assert z.shape == (6, 100) and z.min() >= 0 and z.max() < 1
    images = G(z)
    assert images.shape == (6, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    # G's BatchNorm uses the batch's statistics in either mode, as theirs always does
    assert torch.allclose(G.eval()(z), images, atol=1e-6)
    assert not any(b.requires_grad for b in G.buffers())


def test_weight_norm_fixes_each_units_norm():
    layer = mlp.WNLinear(7, 3)
    layer.g.fill_(2.0)
    assert torch.allclose(layer.weight.norm(dim=1), torch.full((3,), 2.0))
    x = torch.randn(5, 7)
    before = layer(x)
    with torch.no_grad():
        layer.theta.mul_(10.0)  # the direction alone matters
    assert torch.allclose(layer(x), before, atol=1e-5)
    # hidden layers' scales are set by the data, then fixed: not parameters
    assert "g" not in dict(layer.named_parameters()) and "g" in dict(layer.named_buffers())
    trained_scale = mlp.WNLinear(7, 3, train_scale=True)
    assert "g" in dict(trained_scale.named_parameters())


def test_data_dependent_init_standardises_each_unit():
    torch.manual_seed(0)
    layer = mlp.WNLinear(20, 6)
    x = torch.randn(200, 20) * 3 + 1
    out = layer.initialise(x)
    pre = layer(x)  # with the new g and b
    assert torch.allclose(out, pre, atol=1e-5)
    assert torch.allclose(pre.mean(0), torch.zeros(6), atol=1e-5)
    assert torch.allclose(pre.pow(2).mean(0).sqrt(), torch.ones(6), atol=1e-4)
    D = mlp.MLPDiscriminator(input_noise=0.0, hidden_noise=0.0)
    D.initialise(torch.rand(100, 1, 28, 28) * 2 - 1)
    scales = [float(layer.g.mean()) for layer in D.hidden]
    assert all(s != 1.0 for s in scales)


def test_noise_is_on_in_training_and_off_in_evaluation():
    torch.manual_seed(0)
    noise = mlp.GaussianNoise(0.5).train()
    drawn = noise(torch.zeros(100_000))
    assert abs(drawn.std().item() - 0.5) < 0.01
    assert torch.equal(noise.eval()(torch.zeros(3)), torch.zeros(3))
    D = mlp.MLPDiscriminator()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert not torch.equal(D.train()(x)[1], D(x)[1])
    assert torch.equal(D.eval()(x)[1], D(x)[1])


def test_d_loss_against_hand_computed_values():
    zeros = torch.zeros(4, 10)
    terms = mlp.salimans_d_loss(zeros, torch.tensor([0, 3, 5, 9]), zeros, zeros)
    # every logit 0: lse = log 10, so D(x) = 10 / 11
    assert math.isclose(terms["d_sup"].item(), math.log(10), rel_tol=1e-6)
    assert math.isclose(terms["d_real"].item(), 0.5 * math.log(1.1), rel_tol=1e-6)
    assert math.isclose(terms["d_fake"].item(), 0.5 * math.log(11), rel_tol=1e-6)
    total = math.log(10) + 0.5 * math.log(1.1) + 0.5 * math.log(11)
    assert math.isclose(terms["d_loss"].item(), total, rel_tol=1e-6)
    # their code's literal expression, on random logits, with unlabeled_weight 2
    gen = torch.Generator().manual_seed(1)
    lab, unl, fake = (torch.randn(5, 10, generator=gen) * 3 for _ in range(3))
    y = torch.tensor([1, 2, 3, 4, 5])
    l_unl = unl.logsumexp(1)
    loss_unl = (
        -0.5 * l_unl.mean()
        + 0.5 * F.softplus(l_unl).mean()
        + 0.5 * F.softplus(fake.logsumexp(1)).mean()
    )
    loss_lab = -lab[torch.arange(5), y].mean() + lab.logsumexp(1).mean()
    terms = mlp.salimans_d_loss(lab, y, unl, fake, unlabeled_weight=2.0)
    assert torch.allclose(terms["d_loss"], loss_lab + 2.0 * loss_unl, atol=1e-5)


def test_weight_average_is_their_running_average_bias_corrected():
    layer = mlp.WNLinear(2, 1, train_scale=True)
    average = mlp.WeightAverage(layer, rate=0.1)
    values = [1.0, 3.0, -2.0]
    expected = 0.0
    for v in values:
        with torch.no_grad():
            layer.b.fill_(v)
        average.update(layer)
        expected += 0.1 * (v - expected)
    averaged = average.averaged(layer)
    assert math.isclose(averaged.b.item(), expected / (1 - 0.9**3), rel_tol=1e-5)
    assert layer.b.item() == -2.0  # the model itself is untouched
    constant = mlp.WeightAverage(layer, rate=1e-4)
    for _ in range(3):
        constant.update(layer)
    assert torch.allclose(constant.averaged(layer).theta, layer.theta, atol=1e-5)


def test_stream_draws_shuffled_epochs():
    stream = mlp.Stream(torch.arange(10), 4, torch.Generator().manual_seed(0))
    drawn = torch.cat([stream() for _ in range(5)])
    assert sorted(drawn[:10].tolist()) == list(range(10))
    assert sorted(drawn[10:20].tolist()) == list(range(10))


def test_configs_per_scale():
    paper = ssgan.config_for("paper", model="mlp")
    assert isinstance(paper, mlp.MLPConfig)
    assert (paper.steps, paper.batch_size, paper.labelled_batch) == (180_000, 100, 100)
    assert (paper.lr, paper.beta1, paper.average_rate) == (3e-3, 0.5, 1e-4)
    assert ssgan.config_for("book", model="mlp-supervised").steps < paper.steps
    assert isinstance(ssgan.config_for("book", model="klogit"), ssgan.SSGANConfig)
    with pytest.raises(ValueError, match="model"):
        mlp.MLPConfig(model="klogit")
    with pytest.raises(ValueError, match="hidden_noise"):
        ssgan.config_for("book", model="mlp", hidden_noise=-1.0)


@pytest.mark.parametrize("model", mlp.MLP_MODELS)
def test_training_is_finite_and_reproducible(model):
    data, test = _tiny_data()
    config = _tiny_config(model=model)
    a = ssgan.train(config, data=data, test=test, device="cpu", quiet=True)
    b = ssgan.train(config, data=data, test=test, device="cpu", quiet=True)
    assert len(a.log) == 3 and [e["step"] for e in a.extra["eval"]] == [0, 2, 3]
    assert all(math.isfinite(v) for entry in a.log for v in entry.values())
    assert [e["d_loss"] for e in a.log] == [e["d_loss"] for e in b.log]
    assert ("G" in a.models) == (model == "mlp")
    assert ("g_loss" in a.log[0]) == (model == "mlp")
    assert 0 <= a.extra["test_accuracy"] <= 1


def test_round_trip_keeps_the_averaged_weights(tmp_path):
    data, test = _tiny_data()
    result = ssgan.train(_tiny_config(), data=data, test=test, device="cpu", quiet=True)
    path = checkpoint.save(result, tmp_path / "mlp.pt")
    classifier = ssgan.load_classifier(path, device="cpu")
    assert isinstance(classifier.D, mlp.MLPDiscriminator)
    predicted = classifier.predict(test[0])
    assert predicted.shape == (20,) and predicted.dtype == torch.int64
    assert torch.equal(predicted, result["classifier"].predict(test[0]))
    accuracy = (predicted == test[1]).float().mean().item()
    assert accuracy == result.extra["test_accuracy"]
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        classifier.predict(torch.full((2, 1, 28, 28), 255.0))


def test_command_line(tmp_path, capsys):
    for model in ("ssgan-mlp", "ssgan-mlp-supervised"):
        out = tmp_path / model
        argv = [model, "--labels", "20", "--scale", "smoke", "--steps", "2", "--out", str(out)]
        assert train.main(argv) == 0
        assert "test accuracy" in capsys.readouterr().out
        classifier = ssgan.load_classifier(out / "model.pt", device="cpu")
        assert classifier.predict(load_mnist("test", "sample").images[:5]).shape == (5,)
        assert (out / "samples.png").exists() == (model == "ssgan-mlp")
    assert train.main(["ssgan-mlp", "--labels", "15", "--out", str(tmp_path / "bad")]) == 2
    assert "multiple of 10" in capsys.readouterr().err
