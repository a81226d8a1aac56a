import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from ganbook import dcgan
from ganbook.cli import train
from ganbook.core import checkpoint
from ganbook.data.mnist import load_mnist
from ganbook.dcgan.techniques import MinibatchDiscrimination


def test_feature_sizes():
    assert dcgan.feature_sizes(28) == [7, 14, 28]
    assert dcgan.feature_sizes(32) == [4, 8, 16, 32]
    assert dcgan.feature_sizes(64) == [4, 8, 16, 32, 64]
    for bad in (30, 4, 48):
        with pytest.raises(ValueError, match="image_size"):
            dcgan.feature_sizes(bad)


@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32), (3, 64)])
def test_shapes_and_ranges(channels, size):
    G = dcgan.Generator(z_dim=10, width=4, channels=channels, image_size=size)
    D = dcgan.Discriminator(width=4, channels=channels, image_size=size)
    images = G(torch.randn(5, 10))
    assert images.shape == (5, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert D(images).shape == (5,)
    assert torch.all((D.prob(images) > 0) & (D.prob(images) < 1))
    maps = D.hidden(images)
    assert [m.shape[-1] for m in maps] == dcgan.feature_sizes(size)[::-1][1:]
    assert D.features(images).shape == (5, maps[-1][0].numel())


def test_the_dcgan_rules_at_the_published_widths():
    G, D = dcgan.Generator(width=64), dcgan.Discriminator(width=64)
    g_layers, d_layers = list(G.net), [m for b in D.blocks for m in b]
    # no pooling, no fully connected hidden layers
    for net in (G, D):
        assert not any(isinstance(m, nn.MaxPool2d | nn.AvgPool2d) for m in net.modules())
    assert not any(isinstance(m, nn.Linear) for m in G.modules())
    assert [m for m in D.modules() if isinstance(m, nn.Linear)] == [D.out]
    # the published MNIST widths: G 128 -> 64 -> 1, D 64 -> 128
    convs = [m for m in g_layers if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in convs] == [128, 64, 1]
    assert [m.stride for m in convs] == [(1, 1), (2, 2), (2, 2)]
    convs = [m for m in d_layers if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 128]
    assert all(m.stride == (2, 2) for m in convs)
    # BatchNorm everywhere except G's output and D's input layer
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.blocks[0])
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.blocks[1])
    # ReLU in G, LeakyReLU(0.2) in D
    assert any(isinstance(m, nn.ReLU) for m in g_layers)
    assert not any(isinstance(m, nn.LeakyReLU) for m in g_layers)
    assert {m.negative_slope for m in d_layers if isinstance(m, nn.LeakyReLU)} == {0.2}


def test_weights_init_is_normal_0_002():
    torch.manual_seed(0)
    G = dcgan.Generator(width=64)
    weight = G.net[3].weight  # 128 x 64 x 4 x 4 values
    assert weight.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert weight.std().item() == pytest.approx(0.02, rel=0.02)
    bn = G.net[1]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    assert bn.weight.std().item() == pytest.approx(0.02, rel=0.3)
    assert torch.all(bn.bias == 0)


def test_configs_and_methods():
    paper = dcgan.config_for("paper")
    assert (paper.lr, paper.beta1, paper.width, paper.batch_size) == (2e-4, 0.5, 64, 128)
    assert paper.method == "plain" and not paper.feature_matching
    fm = dcgan.config_for("smoke", method="feature matching")
    assert fm.feature_matching and fm.method == "feature matching"
    mbd = dcgan.config_for("smoke", method="minibatch discrimination", seed=3)
    assert (mbd.minibatch_kernels, mbd.minibatch_dims, mbd.seed) == (100, 5, 3)
    assert mbd.method == "minibatch discrimination"
    both = dcgan.config_for("smoke", feature_matching=True, minibatch_kernels=10)
    assert both.method == "feature matching + minibatch discrimination"
    with pytest.raises(ValueError, match="method"):
        dcgan.config_for("smoke", method="wgan")
    with pytest.raises(ValueError, match="dataset"):
        dcgan.config_for("smoke", dataset="lsun")
    with pytest.raises(ValueError, match="steps"):
        dcgan.config_for("smoke", steps=0)


def test_build_puts_minibatch_discrimination_in_front_of_the_output():
    config = dcgan.config_for("smoke", method="minibatch discrimination").to_dict()
    D = dcgan.build(config)["D"]
    assert isinstance(D.minibatch, MinibatchDiscrimination)
    # it compares the channel means of the last map (2 x width channels) ...
    assert D.minibatch.in_features == 2 * config["width"]
    # ... and its 100 closeness features join the flattened 7 x 7 map
    assert D.out.in_features == 2 * config["width"] * 49 + 100
    assert dcgan.build(dcgan.config_for("smoke").to_dict())["D"].minibatch is None


def test_minibatch_discrimination_sees_the_batch():
    torch.manual_seed(0)
    config = dcgan.config_for("smoke", method="minibatch discrimination").to_dict()
    D = dcgan.build(config)["D"].eval()
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    # the same image scores differently beside other images: D looks across the batch
    alone = D(torch.cat([x[:1], x[:1], x[:1]]))[0]
    assert not torch.isclose(D(x)[0], alone)
    plain = dcgan.build(dcgan.config_for("smoke").to_dict())["D"].eval()
    assert torch.isclose(plain(x)[0], plain(torch.cat([x[:1], x[:1]]))[0])


def test_d_width_gives_d_a_width_of_its_own():
    config = dcgan.config_for("smoke", width=8, d_width=12).to_dict()
    models = dcgan.build(config)
    assert models["D"].blocks[0][0].out_channels == 12
    assert models["G"].net[-2].in_channels == 8
    assert (
        dcgan.build(dcgan.config_for("smoke", width=8).to_dict())["D"].blocks[0][0].out_channels
        == 8
    )


def test_matched_plain_d_has_the_parameters_of_the_minibatch_d():
    def count(scale, method):
        return dcgan.parameter_count(
            dcgan.build(dcgan.config_for(scale, method=method).to_dict())["D"]
        )

    for scale in ("smoke", "book", "paper"):
        mbd, matched = count(scale, "minibatch discrimination"), count(scale, dcgan.MATCHED)
        assert matched > count(scale, "plain")
        assert abs(matched - mbd) / mbd < 0.1


def test_feature_matching_sees_the_channel_means_through_batchnorm():
    """Normalised batch by batch, real digits and noise have almost equal channel means."""
    torch.manual_seed(0)
    D = dcgan.build(dcgan.config_for("smoke").to_dict())["D"].train()
    real = load_mnist("train").images[:64]
    fake = torch.rand(64, 1, 28, 28) * 2 - 1  # uniform noise

    def channel_gap(real_f, fake_f):
        def means(f):
            return f.view(len(f), D.blocks[-1][0].out_channels, -1).mean((0, 2))

        return (means(real_f) - means(fake_f)).pow(2).sum().item()

    separate = channel_gap(D.features(real), D.features(fake))
    joint = channel_gap(*dcgan.joint_features(D, real, fake))
    assert joint > 100 * separate


def test_real_batch_scales_8_bit_pixels():
    data = torch.tensor([[[[0, 255]]], [[[127, 128]]]], dtype=torch.uint8)
    batch = dcgan.real_batch(data, torch.tensor([0]), torch.device("cpu"))
    assert batch.dtype == torch.float32 and batch.flatten().tolist() == [-1.0, 1.0]


def _models(**overrides):
    config = dcgan.config_for("smoke", batch_size=8, **overrides)
    models = dcgan.build(config.to_dict())
    G, D = models["G"], models["D"]
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    return G, D, opt_g, opt_d


@pytest.mark.parametrize("fm", [False, True])
def test_train_step_moves_both_networks_and_logs(fm):
    torch.manual_seed(0)
    G, D, opt_g, opt_d = _models(feature_matching=fm)
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    real, z = torch.rand(8, 1, 28, 28) * 2 - 1, torch.randn(8, 100)
    log = dcgan.train_step(G, D, opt_g, opt_d, real, z, feature_matching=fm)
    assert all(math.isfinite(v) for v in log.values())
    assert 0 < log["d_real"] < 1 and 0 < log["d_fake"] < 1
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d0, D.parameters(), strict=True))


@pytest.mark.parametrize("fm", [False, True])
def test_train_step_minimises_the_chosen_generator_loss(fm):
    """With learning rate 0 nothing moves, so the logged losses can be recomputed."""
    torch.manual_seed(0)
    G, D, _, _ = _models(feature_matching=fm)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=0.0) for m in (G, D))
    real, z = torch.rand(8, 1, 28, 28) * 2 - 1, torch.randn(8, 100)
    log = dcgan.train_step(G, D, opt_g, opt_d, real, z, feature_matching=fm)
    with torch.no_grad():
        fake = G(z)
        if fm:  # D's features of the real and generated batches, normalised together
            both = D.features(torch.cat([real, fake]))
            expected = (both[:8].mean(0) - both[8:].mean(0)).pow(2).sum()
        else:
            expected = -torch.nn.functional.logsigmoid(D(fake)).mean()
        d_loss = -torch.nn.functional.logsigmoid(D(real)).mean()
        d_loss -= torch.nn.functional.logsigmoid(-D(fake)).mean()
    assert log["g_loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert log["d_loss"] == pytest.approx(d_loss.item(), rel=1e-5)


def test_training_is_reproducible_and_monitored():
    config = dcgan.config_for("smoke", steps=4, sample_every=2, batch_size=8)
    data = torch.rand(40, 1, 28, 28) * 2 - 1
    calls = []

    def monitor(G):
        calls.append(1)
        return {"FID": 1.0}

    a = dcgan.train(config, data=data, device="cpu", quiet=True, monitor=monitor)
    b = dcgan.train(config, data=data, device="cpu", quiet=True)
    assert len(a.log) == 4 and sorted(a.extra["samples"]) == [0, 2, 4]
    assert a.extra["samples"][4].shape == (64, 1, 28, 28)
    assert [e["g_loss"] for e in a.log] == [e["g_loss"] for e in b.log]
    assert len(calls) == 3 and a.extra["monitor"][0] == {"step": 0, "FID": 1.0}


def test_training_rejects_images_of_the_wrong_shape():
    config = dcgan.config_for("smoke", steps=1, batch_size=4, dataset="cifar10")
    with pytest.raises(ValueError, match="3x32x32"):
        dcgan.train(config, data=torch.zeros(10, 1, 28, 28), device="cpu", quiet=True)


def test_training_on_8_bit_colour_images():
    config = dcgan.config_for("smoke", steps=2, batch_size=4, dataset="svhn", sample_every=2)
    data = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8)
    run = dcgan.train(config, data=data, device="cpu", quiet=True)
    assert run.extra["samples"][2].shape == (64, 3, 32, 32)


def test_save_load_round_trip(tmp_path):
    config = dcgan.config_for("smoke", method="minibatch discrimination", steps=2, batch_size=4)
    run = dcgan.train(config, data=torch.rand(16, 1, 28, 28) * 2 - 1, device="cpu", quiet=True)
    loaded = checkpoint.load(checkpoint.save(run, tmp_path / "dcgan.pt"), device="cpu")
    assert loaded.kind == "dcgan" and loaded.config == run.config
    z = torch.randn(6, 100)
    assert torch.equal(loaded["G"](z), run["G"](z))
    assert torch.equal(loaded["D"](loaded["G"](z)), run["D"](run["G"](z)))


def test_trained_dcgan_trains_once_then_loads(isolated_cache, monkeypatch):
    monkeypatch.setitem(dcgan.SCALE_SETTINGS["smoke"]["config"], "steps", 3)
    first = dcgan.trained_dcgan("smoke")
    second = dcgan.trained_dcgan("smoke")
    assert first.log == second.log and len(first.log) == 3
    assert len(list(isolated_cache.glob("dcgan-smoke-*.pt"))) == 1
    assert {"IS", "FID", "classes", "max_share", "unsure"} <= set(first.extra["monitor"][-1])
    monkeypatch.setitem(dcgan.SCALE_SETTINGS["smoke"]["compare"], "steps", 2)
    small = dcgan.trained_dcgan("smoke", comparison=True)
    assert len(small.log) == 2 and len(list(isolated_cache.glob("dcgan-smoke-*.pt"))) == 2


def test_failure_rule_reads_the_images_the_classifier_is_sure_about():
    # half the images unsure, the rest spread over ten digits: weak, not failed
    spread = dcgan.sure_coverage(np.full(10, 0.05))
    assert spread == {"sure classes": 10, "sure max share": pytest.approx(0.1), "sure": 0.5}
    assert not dcgan.failed(spread)
    # the sure images pile onto one digit: collapsed
    piled = dcgan.sure_coverage(np.array([0.3] + [0.02] * 9))
    assert piled["sure max share"] == pytest.approx(0.625) and dcgan.failed(piled)
    # seven digits among the sure images
    assert dcgan.failed(dcgan.sure_coverage(np.array([0.1] * 7 + [0.0] * 3)))
    # sure about almost nothing
    assert dcgan.failed(dcgan.sure_coverage(np.full(10, 0.005)))


def test_comparison_summary_takes_medians_of_healthy_runs_and_counts_failures():
    runs = pd.DataFrame(
        {
            "method": ["plain"] * 3 + ["fm"] * 2,
            "seed": [0, 1, 2, 0, 1],
            "IS": [4.0, 6.0, 7.0, 2.0, 3.0],
            "FID": [10.0, 20.0, 900.0, 30.0, 50.0],
            "classes": [10, 8, 3, 6, 9],
            "max_share": [0.1, 0.2, 0.5, 0.5, 0.2],
            "failed": [False, False, True, True, False],
            "D parameters": [100] * 3 + [200] * 2,
            "seconds": [60.0, 120.0, 90.0, 60.0, 60.0],
        }
    )
    table = dcgan.Comparison(runs).summary()
    assert list(table.index) == ["plain", "fm"]
    # the failed plain run (FID 900) is counted, not averaged in
    assert table.loc["plain", "failed"] == 1 and table.loc["plain", "runs"] == 3
    assert table.loc["plain", "FID median"] == 15.0 and table.loc["plain", "FID high"] == 20.0
    assert table.loc["fm", "IS median"] == 3.0 and table.loc["fm", "failed"] == 1
    assert table.loc["fm", "D parameters"] == 200 and table.loc["plain", "minutes"] == 1.5


def test_cli_trains_a_dcgan_with_the_improved_techniques(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["dcgan", "--scale", "smoke", "--steps", "2", "--out", str(out)]
    assert train.main([*argv, "--feature-matching", "--minibatch-disc"]) == 0
    loaded = checkpoint.load(out / "model.pt", device="cpu")
    assert loaded.kind == "dcgan" and loaded.config["feature_matching"]
    assert loaded.config["minibatch_kernels"] == 100
    assert {p.name for p in out.iterdir()} == {"model.pt", "log.csv", "samples.png", "run.json"}
    assert "[D loss:" in capsys.readouterr().out


def test_cli_flags_keep_the_other_models_working():
    args = train.parser().parse_args(["gan", "--out", "x", "--minibatch-disc"])
    assert args.model == "gan" and args.minibatch_disc and not args.feature_matching
    args = train.parser().parse_args(["dcgan", "--out", "x"])
    assert args.dataset == "mnist" and args.data_path is None


def test_cli_without_data_path_is_one_line(tmp_path, capsys):
    status = train.main(["dcgan", "--dataset", "svhn", "--out", str(tmp_path / "x")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("ganbook-train: error: --dataset svhn needs --data-path")
    assert err.count("\n") == 1
