import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganbook import ssl as ssgan
from ganbook.cli import train
from ganbook.core import checkpoint
from ganbook.data.mnist import load_mnist


def _layers(module, kind):
    return [m for m in module.modules() if isinstance(m, kind)]


def test_discriminator_matches_the_seed():
    D = ssgan.Discriminator(width=1.0)
    convs = _layers(D, nn.Conv2d)
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (1, 128),
        (128, 256),
        (256, 512),
        (512, 1024),
    ]
    assert [c.kernel_size for c in convs] == [(4, 4), (4, 4), (4, 4), (3, 3)]
    assert [c.stride for c in convs] == [(2, 2), (2, 2), (4, 4), (1, 1)]
    assert D.dense.out_features == 11
    # BN after conv 2 and 3 only; dropout after conv 1, 2 and 3 only
    body = list(D.body)
    kinds = [type(m).__name__ for m in body]
    assert kinds.count("BatchNorm2d") == 2 and kinds.count("TFDropout") == 3
    assert kinds[-2:] == ["Conv2d", "LeakyReLU"]
    assert {m.negative_slope for m in _layers(D, nn.LeakyReLU)} == {0.2}


def test_spatial_sizes_follow_the_seed():
    D = ssgan.Discriminator(width=1 / 16).eval()
    x = torch.zeros(2, 1, 64, 64)
    sizes = []
    for layer in D.body:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            sizes.append(tuple(x.shape[1:]))
    assert sizes == [(8, 32, 32), (16, 16, 16), (32, 4, 4), (64, 2, 2)]
    G = ssgan.Generator(width=1 / 16).eval()
    z = torch.zeros(2, 100, 1, 1)
    sizes = []
    for layer in G.net:
        z = layer(z)
        if isinstance(layer, nn.ConvTranspose2d):
            sizes.append(tuple(z.shape[1:]))
    assert sizes == [(32, 4, 4), (16, 16, 16), (8, 32, 32), (1, 64, 64)]


def test_the_32_pixel_variant_keeps_the_tail_shapes():
    D = ssgan.Discriminator(width=1 / 16, image_size=32).eval()
    x = torch.zeros(2, 1, 32, 32)
    sizes = []
    for layer in D.body:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            sizes.append(tuple(x.shape[1:]))
    assert sizes == [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]
    G = ssgan.Generator(width=1 / 16, image_size=32)
    assert G(torch.randn(3, 100)).shape == (3, 1, 32, 32)
    classifier = ssgan.build(ssgan.config_for("smoke", image_size=32).to_dict())["classifier"]
    assert classifier.predict(torch.zeros(4, 1, 28, 28)).shape == (4,)
    with pytest.raises(ValueError, match="image_size"):
        ssgan.config_for("smoke", image_size=48)


def test_shapes_ranges_and_width():
    G, D = ssgan.Generator(width=1 / 8), ssgan.Discriminator(width=1 / 8)
    images = G(torch.randn(5, 100))
    assert images.shape == (5, 1, 64, 64)
    assert images.min() >= -1 and images.max() <= 1
    features, logits = D(images)
    assert features.shape == (5, 128) and logits.shape == (5, 11)
    with pytest.raises(ValueError, match="64x64"):
        D(torch.zeros(2, 1, 28, 28))
    assert ssgan.channels(1024, 1 / 16) == 64 and ssgan.channels(128, 1 / 1000) == 1


def test_tf1_dropout_keeps_keep_prob():
    x = torch.ones(200_000)
    drop = ssgan.TFDropout(0.7).train()
    y = drop(x)
    assert drop.p == pytest.approx(0.3)
    assert (y > 0).float().mean().item() == pytest.approx(0.7, abs=0.01)
    assert torch.allclose(y[y > 0], torch.full_like(y[y > 0], 1 / 0.7))
    assert torch.equal(drop.eval()(x), x)
    # The trap: nn.Dropout's argument is the share dropped, not kept.
    trap = nn.Dropout(0.7).train()
    assert (trap(x) > 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    with pytest.raises(ValueError):
        ssgan.TFDropout(0.0)


def test_tf_batchnorm_defaults():
    bn = ssgan.tf_batchnorm(4)
    assert bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1e-3)


def test_extended_labels_and_masked_mean():
    extended = ssgan.extended_labels(torch.tensor([3, 0]))
    assert extended.shape == (2, 11)
    assert extended[0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert extended[1, 1] == 1 and extended[:, 0].tolist() == [0, 0]
    values = torch.tensor([2.0, 4.0, 8.0])
    assert ssgan.masked_mean(values, torch.tensor([1.0, 0.0, 1.0])).item() == 5.0
    # the seed's unguarded 0/0 would be NaN
    assert ssgan.masked_mean(values, torch.zeros(3)).item() == 0.0


def test_eleven_class_losses_against_hand_computed_values():
    real = torch.zeros(2, 11)  # softmax uniform: CE = log 11; logit 0 = 0
    real[1, 0] = math.log(3.0)  # sigmoid = 3/4
    fake = torch.zeros(2, 11)
    fake[:, 0] = torch.tensor([math.log(3.0), -math.log(3.0)])
    labels, mask = torch.tensor([4, 7]), torch.tensor([1.0, 0.0])
    d = ssgan.eleven_class_d_loss(real, fake, labels, mask)
    assert d["d_sup"].item() == pytest.approx(math.log(11))
    # towards 0 on real: -log(1 - sigmoid(l0)) = log 2 and log 4
    assert d["d_real"].item() == pytest.approx((math.log(2) + math.log(4)) / 2)
    # towards 1 on fake: -log sigmoid(l0) = log(4/3) and log 4
    assert d["d_fake"].item() == pytest.approx((math.log(4 / 3) + math.log(4)) / 2)
    assert d["d_loss"].item() == pytest.approx(
        d["d_sup"].item() + d["d_real"].item() + d["d_fake"].item()
    )
    real_f = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake_f = torch.tensor([[0.0, 0.0], [0.0, 2.0]])  # mean (0, 1)
    g = ssgan.eleven_class_g_loss(fake, real_f, fake_f)
    assert g["g_fm"].item() == pytest.approx(4.0)
    # fake wants to be real: -log(1 - sigmoid(l0)) = log 4 and log(4/3)
    assert g["g_adv"].item() == pytest.approx((math.log(4) + math.log(4 / 3)) / 2)
    assert g["g_loss"].item() == pytest.approx(g["g_adv"].item() + 4.0)


def test_supervised_term_is_cross_entropy_with_the_shifted_label():
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 11), torch.randint(0, 10, (6,))
    d = ssgan.eleven_class_d_loss(logits, logits, labels, torch.ones(6))
    assert d["d_sup"].item() == pytest.approx(F.cross_entropy(logits, labels + 1).item())


def test_klogit_losses_against_hand_computed_values():
    real = torch.zeros(1, 10)  # Z = 10, D(x) = 10/11
    fake = torch.full((1, 10), -math.log(10.0))  # Z = 1, D = 1/2
    d = ssgan.klogit_d_loss(real, fake, torch.tensor([2]), torch.ones(1))
    assert d["d_sup"].item() == pytest.approx(math.log(10))
    assert d["d_real"].item() == pytest.approx(-math.log(10 / 11))
    assert d["d_fake"].item() == pytest.approx(math.log(2))
    assert ssgan.klogit_prob_real(real).item() == pytest.approx(10 / 11)
    g = ssgan.klogit_g_loss(fake, torch.ones(2, 3), torch.zeros(2, 3))
    assert g["g_loss"].item() == pytest.approx(1.0)


def test_label_count():
    assert ssgan.label_count(100, 4000) == 100
    assert ssgan.label_count("20%", 4000) == 800
    assert ssgan.label_count("20%", 60_000) == 12_000
    for bad in ("15", "abc", "0%", "150%", 5000):
        with pytest.raises(ValueError, match="labels"):
            ssgan.label_count(bad, 4000)


def test_labelled_subset_is_balanced_fixed_and_disjoint_from_test():
    train_set, test_set = load_mnist("train", "sample"), load_mnist("test", "sample")
    subset = ssgan.labelled_subset(train_set.labels, 100, seed=0)
    assert len(subset) == len(set(subset.tolist())) == 100
    assert torch.bincount(train_set.labels[subset], minlength=10).tolist() == [10] * 10
    assert torch.equal(subset, ssgan.labelled_subset(train_set.labels, 100, seed=0))
    assert not torch.equal(subset, ssgan.labelled_subset(train_set.labels, 100, seed=1))
    test_pixels = {x.numpy().tobytes() for x in test_set.images}
    assert not any(x.numpy().tobytes() in test_pixels for x in train_set.images[subset])
    with pytest.raises(ValueError):
        ssgan.labelled_subset(train_set.labels, 25, seed=0)


def _batches(mask, supervised=False):
    labels = torch.arange(400) % 10
    images = torch.zeros(400, 1, 28, 28)
    subset = ssgan.labelled_subset(labels, 20, seed=0)
    gen = torch.Generator().manual_seed(0)
    return subset, ssgan.Batches(images, labels, subset, mask, 40, 8, gen, supervised)


def test_separate_batches_put_the_labelled_subset_first():
    subset, batches = _batches("separate")
    for _ in range(50):
        x, y, mask = batches()
        assert x.shape == (48, 1, 28, 28) and mask.tolist() == [1.0] * 8 + [0.0] * 40
    assert batches.labels_seen <= len(subset)
    _, supervised = _batches("separate", supervised=True)
    x, y, mask = supervised()
    assert len(x) == 8 and mask.sum() == 8


def test_the_seeds_redrawn_mask_leaks_labels_and_the_fixed_one_does_not():
    subset, fixed = _batches("fixed")
    _, redrawn = _batches("redrawn")
    for _ in range(200):
        _, _, mask = redrawn()
        assert mask.sum() == int(40 * 20 / 400)  # the seed's count: int(batch * rate)
        fixed()
    assert fixed.labels_seen <= len(subset)
    # 200 batches of 40 with 2 labels each: far more than the 20 allowed labels
    assert redrawn.labels_seen > 10 * len(subset)
    mask = ssgan.seed_labelled_mask(0.2, 128, torch.Generator().manual_seed(0))
    assert mask.sum() == 25


def _tiny_config(**overrides):
    return ssgan.config_for(
        "smoke", width=1 / 32, steps=3, batch_size=8, labelled_batch=4, eval_every=2, **overrides
    )


def _tiny_data():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(60, 1, 28, 28, generator=gen) * 2 - 1
    return (images, torch.arange(60) % 10), (images[:20], torch.arange(20) % 10)


@pytest.mark.parametrize("model", ssgan.MODELS)
def test_training_is_finite_and_reproducible(model):
    data, test = _tiny_data()
    config = _tiny_config(model=model, labels=20)
    a = ssgan.train(config, data=data, test=test, device="cpu", quiet=True)
    b = ssgan.train(config, data=data, test=test, device="cpu", quiet=True)
    assert len(a.log) == 3 and [e["step"] for e in a.extra["eval"]] == [0, 2, 3]
    assert all(math.isfinite(v) for entry in a.log for v in entry.values())
    assert [e["d_loss"] for e in a.log] == [e["d_loss"] for e in b.log]
    assert ("G" in a.models) == (model != "supervised")
    assert 0 <= a.extra["test_accuracy"] <= 1


def test_prediction_interface_and_round_trip(tmp_path):
    data, test = _tiny_data()
    trained = ssgan.train(_tiny_config(labels=20), data=data, test=test, device="cpu", quiet=True)
    path = checkpoint.save(trained, tmp_path / "ssgan.pt")
    classifier = ssgan.load_classifier(path, device="cpu")
    images = test[0][:7]
    predicted = classifier.predict(images)
    assert predicted.shape == (7,) and predicted.dtype == torch.int64
    assert predicted.min() >= 0 and predicted.max() <= 9
    assert torch.equal(predicted, trained["classifier"].predict(images))
    # resizing happens inside: images already at D's size give the same answer
    resized = ssgan.resize(images, classifier.D.image_size)
    assert torch.equal(predicted, classifier.predict(resized))
    with pytest.raises(ValueError, match="shape"):
        classifier.predict(torch.zeros(3, 28, 28))
    with pytest.raises(ValueError, match="28x28"):
        classifier.predict(torch.zeros(3, 1, 48, 48))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        classifier.predict(torch.full((2, 1, 28, 28), 255.0))


def test_downsampling_for_the_chapter_1_metrics():
    images = torch.rand(3, 1, 64, 64) * 2 - 1
    small = ssgan.to_mnist_size(images)
    assert small.shape == (3, 1, 28, 28)
    assert small.min() >= -1 and small.max() <= 1


def test_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["ssgan", "--labels", "20", "--scale", "smoke", "--steps", "2", "--out", str(out)]
    assert train.main(argv) == 0
    classifier = ssgan.load_classifier(out / "model.pt", device="cpu")
    assert classifier.predict(load_mnist("test", "sample").images[:5]).shape == (5,)
    assert (out / "log.csv").exists() and (out / "samples.png").exists()
    args = train.parser().parse_args(["ssgan", "--labels", "20%", "--out", "x"])
    assert args.labels == "20%"
    assert train.main(["ssgan", "--labels", "15", "--out", str(out.with_name("other"))]) == 2
    assert "multiple of 10" in capsys.readouterr().err
    assert train.main(["gan", "--labels", "100", "--out", str(out.with_name("gan"))]) == 2
    assert "--labels applies only to" in capsys.readouterr().err


def _accuracies(rows):
    """A test-accuracy Series indexed by (model, labels, seed), as the chapters build it."""
    frame = pd.DataFrame(rows, columns=["model", "labels", "seed", "test_acc"])
    return frame.set_index(["model", "labels", "seed"])["test_acc"]


def test_paired_gains_pair_runs_by_seed():
    accuracy = _accuracies(
        [
            ("gan", 100, 0, 0.90),
            ("gan", 100, 1, 0.80),
            ("control", 100, 1, 0.75),
            ("control", 100, 0, 0.85),
            ("control", 100, 2, 0.10),  # no GAN run of seed 2: left out
        ]
    )
    assert ssgan.paired_gains(accuracy, "gan", "control") == pytest.approx([5.0, 5.0])
    with pytest.raises(ValueError, match="share no seed"):
        ssgan.paired_gains(
            _accuracies([("gan", 100, 0, 0.9), ("control", 100, 1, 0.8)]), "gan", "control"
        )


def test_verdict_separates_a_clear_gain_from_one_within_the_spread():
    clear = _accuracies(
        [("gan", 100, s, 0.90 + 0.01 * s) for s in range(3)]
        + [("control", 100, s, 0.80 + 0.01 * s) for s in range(3)]
    )
    assert ssgan.verdict(clear, "gan", "control").endswith("clear of the spread over seeds")
    # better on every seed, but the worst GAN run is below the best control run
    overlapping = _accuracies(
        [("gan", 100, 0, 0.81), ("gan", 100, 1, 0.95)]
        + [("control", 100, 0, 0.80), ("control", 100, 1, 0.90)]
    )
    assert "within the spread" in ssgan.verdict(overlapping, "gan", "control")
    worse = _accuracies([("gan", 100, 0, 0.7), ("control", 100, 0, 0.8)])
    assert ssgan.verdict(worse, "gan", "control").startswith("no gain")
