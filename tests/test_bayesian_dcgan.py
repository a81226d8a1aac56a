import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganbook import dcgan
from ganbook import ssl as ssgan
from ganbook.bayesian import images as bd
from ganbook.bayesian import images_training
from ganbook.bayesian import posterior as bg
from ganbook.core import checkpoint
from ganbook.core.sampling import sample_z
from ganbook.data.mnist import DataError
from ganbook.data.original import DATASETS, Digits, load_original, save_digits


@pytest.fixture(scope="module")
def digits_path(tmp_path_factory):
    return save_digits(tmp_path_factory.mktemp("digits"))


def tiny(**overrides):
    fields = {"dataset": "digits", "width": 4, "z_dim": 8, "batch_size": 8, "numz": 2}
    return bd.BDCGANConfig(**{**fields, **overrides})


def test_shapes_of_the_stacked_networks():
    torch.manual_seed(0)
    for config, outputs in [
        (tiny(dataset="mnist", num_mcmc=2), 2),
        (tiny(dataset="mnist", semi_supervised=True), 11),
        (tiny(dataset="mnist", wasserstein=True), 1),
        (tiny(ml_ensemble=3), 2),
    ]:
        models = bd.build(config.to_dict())
        G, D = models["G"], models["D"]
        assert len(G) == config.num_generators and len(D) == config.num_discriminators
        channels, size = config.image_shape
        fake = G(sample_z(len(G), 5, config.z_dim, torch.Generator().manual_seed(0)))
        assert fake.shape == (len(G), 5, channels, size, size)
        assert fake.abs().max() <= 1
        logits = D(bg.pool_for_discriminators(fake, len(D)))
        assert logits.shape == (len(D), len(G) * 5, outputs)
        if not config.wasserstein:
            assert torch.equal(logits[..., 0], torch.zeros_like(logits[..., 0]))
    assert tiny(numz=5, num_mcmc=5).num_generators == 25
    assert tiny(numz=5, num_mcmc=5, num_disc=1).num_discriminators == 5


def test_unsupervised_discriminator_is_chapter_2s():
    torch.manual_seed(0)
    ours = bd.Discriminator(8, 1, 28, classes=1)
    theirs = dcgan.Discriminator(8, 1, 28)
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    # logit 1 against the fixed fake logit 0 is chapter 2's logit: same D(x)
    assert torch.allclose(ours(x)[:, 1], theirs(x), atol=1e-6)
    assert torch.allclose(F.softmax(ours(x), 1)[:, 1], theirs.prob(x), atol=1e-6)


def test_each_weight_sample_has_its_own_batchnorm():
    torch.manual_seed(0)
    G = bd.build(tiny(dataset="mnist", num_mcmc=2).to_dict())["G"]
    singles = G.unstack()
    z = sample_z(4, 6, 8, torch.Generator().manual_seed(1))
    z[1] *= 0.1  # a different input for sample 1 gives different batch statistics
    G(z)
    for single, zk in zip(singles, z, strict=True):
        single(zk)
    _, buffers = G.state()
    mean = buffers["net.1.running_mean"]
    for k, single in enumerate(singles):
        assert torch.allclose(mean[k], single.net[1].running_mean, atol=1e-6)
    assert not torch.allclose(mean[0], mean[1])


def looped_energies(Gs, Ds, posterior, real, z, labelled=None):
    """The posterior energies computed model by model (what the stacked code batches)."""
    n = real.shape[0]
    fake = torch.cat([g(zk) for g, zk in zip(Gs, z, strict=True)]).detach()
    u_d = []
    for d in Ds:
        real_l, fake_l = d(real).unsqueeze(0), d(fake).unsqueeze(0)
        u = bg.discriminator_energy(real_l, fake_l, posterior.dataset_size / n)
        if labelled is not None:
            x, y = labelled
            u = u + bd.supervised_energy(d(x).unsqueeze(0), y, posterior.dataset_size / len(y))
        u_d.append(u[0] + sum(p.pow(2).sum() for p in d.parameters()) / 2 / posterior.prior_std**2)
    return torch.stack(u_d)


def test_batched_step_equals_looped_step():
    torch.manual_seed(0)
    config = tiny(num_mcmc=2, semi_supervised=True)
    models = bd.build(config.to_dict())
    G, D = models["G"], models["D"]
    Gs, Ds = G.unstack(), D.unstack()
    posterior = bd.posterior_for(config, 100)
    real = torch.rand(8, 1, 8, 8) * 2 - 1
    labelled = (torch.rand(4, 1, 8, 8) * 2 - 1, torch.tensor([0, 3, 9, 3]))
    z = sample_z(4, 8, 8, torch.Generator().manual_seed(0))
    with torch.no_grad():
        fake = G(z)
        for g, zk in zip(Gs, z, strict=True):
            g(zk)  # the same BatchNorm updates as the stacked call
    u_batched = posterior.d_energy(D, real, fake, labelled=labelled)
    u_looped = looped_energies(Gs, Ds, posterior, real, z, labelled)
    assert torch.allclose(u_batched, u_looped, rtol=1e-5)
    # one Adam step of each: the same new weights
    opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    opts = [torch.optim.Adam(d.parameters(), lr=1e-3) for d in Ds]
    opt.zero_grad()
    u_batched.sum().backward()
    opt.step()
    for o in opts:
        o.zero_grad()
    u_looped.sum().backward()
    for o in opts:
        o.step()
    for i, name in enumerate(D.param_names):
        expected = torch.stack([dict(d.named_parameters())[name] for d in Ds])
        assert torch.allclose(D.stacked[i], expected, atol=1e-6), name
    # G's energy: every generator judged by every discriminator (on the pooled samples)
    fake = G(z)
    u_g = posterior.g_energy(G, D, fake)
    pooled_logits = torch.stack([d(fake.reshape(-1, 1, 8, 8)) for d in D.unstack()])
    logits = pooled_logits.reshape(2, 4, 8, -1)
    for k, g in enumerate(Gs):
        expected = bg.generator_energy(logits[:, k : k + 1], posterior.gen_observed / 8)[0]
        expected = expected + sum(p.pow(2).sum() for p in g.parameters()) / 2
        assert torch.allclose(u_g[k], expected, rtol=1e-5)


def test_ml_ensemble_pairs_each_discriminator_with_its_own_generator():
    torch.manual_seed(0)
    config = tiny(ml_ensemble=3)
    models = bd.build(config.to_dict())
    posterior = bd.posterior_for(config, 100)
    assert posterior.ml and posterior.pairwise
    real = torch.rand(8, 1, 8, 8) * 2 - 1
    fake = models["G"](sample_z(3, 8, 8, torch.Generator().manual_seed(0))).detach()
    fake.requires_grad_(True)
    u = posterior.d_energy(models["D"], real, fake)
    (grad,) = torch.autograd.grad(u[0], fake)
    assert grad[0].abs().sum() > 0 and grad[1:].abs().sum() == 0
    # the plain mean loss of a DCGAN: no prior, no N
    d0 = models["D"].unstack()[0]
    expected = -(F.logsigmoid(d0(real)[:, 1]).mean() + F.logsigmoid(-d0(fake[0])[:, 1]).mean())
    assert torch.allclose(u[0], expected, rtol=1e-5)


def test_supervised_energy_by_hand():
    logits = torch.tensor([[[0.0, 1.0, 2.0], [0.0, 3.0, -1.0]]])
    labels = torch.tensor([1, 0])
    log_p = F.log_softmax(logits[0], 1)
    expected = -5.0 * (log_p[0, 2] + log_p[1, 1])
    assert torch.allclose(bd.supervised_energy(logits, labels, 5.0), expected.view(1))


def test_prediction_is_the_argmax_of_the_posterior_averaged_softmax():
    torch.manual_seed(0)
    config = tiny(semi_supervised=True, num_mcmc=3)
    classifier = bd.build(config.to_dict())["classifier"].eval()
    x = torch.rand(20, 1, 8, 8) * 2 - 1
    probs = torch.stack([F.softmax(d.eval()(x), 1) for d in classifier.D.unstack()]).mean(0)
    real = probs[:, 1:] / probs[:, 1:].sum(1, keepdim=True)
    assert torch.allclose(classifier.probs(x), real, atol=1e-6)
    predicted = classifier.predict(x, batch=7)
    assert predicted.dtype == torch.int64 and torch.equal(predicted, real.argmax(1))
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, 8, 8\)"):
        classifier.predict(torch.zeros(3, 1, 28, 28))


def test_recalibrated_batchnorm_is_the_average_over_real_images():
    torch.manual_seed(0)
    D = bd.build(tiny(dataset="mnist", semi_supervised=True).to_dict())["D"]
    images = torch.rand(40, 1, 28, 28) * 2 - 1
    bd.recalibrate_batchnorm(D, images, batch=10)
    _, buffers = D.state()
    single = D.unstack()[0].train()
    features = single.blocks[0](images)
    conv = single.blocks[1][0](features)
    batch_means = conv.detach().reshape(4, 10, *conv.shape[1:]).mean(dim=(1, 3, 4))
    assert torch.allclose(buffers["blocks.1.1.running_mean"][0], batch_means.mean(0), atol=1e-5)


def test_digits_data_set_has_the_tutorial_interface(digits_path):
    data = Digits(digits_path)
    assert data.x_dim == [8, 8, 1] and data.num_classes == 10
    assert data.imgs.shape[1:] == (8, 8, 1) and len(data.imgs) + len(data.test_imgs) == 1797
    assert data.labels.shape == (len(data.imgs), 10) and (data.labels.sum(1) == 1).all()
    assert data.test_labels.shape == (len(data.test_imgs), 10)
    assert data.imgs.min() == -1 and data.imgs.max() == 1
    x, y = data.next_batch(16)
    assert x.shape == (16, 8, 8, 1) and y.shape == (16, 10)
    x, y = data.next_batch(5, class_id=3)
    assert (y.argmax(1) == 3).all()
    x, y = data.test_batch(7)
    assert x.shape == (7, 8, 8, 1)
    assert isinstance(load_original("digits", digits_path), Digits)


def test_data_set_errors_are_one_sentence(tmp_path, digits_path):
    with pytest.raises(DataError, match=r"x_tr\.npy is missing"):
        Digits(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("x_tr.npy", "y_tr.npy", "x_te.npy", "y_te.npy"):
        (bad / name).write_bytes((digits_path / name).read_bytes())
    np.save(bad / "x_tr.npy", np.zeros((3, 28, 28, 1)))
    with pytest.raises(DataError, match=r"shape \(N, 8, 8, 1\)"):
        Digits(bad)
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_original("imagenet")
    assert "digits" in DATASETS


def test_labelled_subset_is_chapter_3s(digits_path):
    data = Digits(digits_path)
    subset = bd.labelled_subset(data, 50, seed=4)
    labels = torch.from_numpy(data.labels.argmax(1))
    assert torch.equal(subset, ssgan.labelled_subset(labels, 50, 4))
    assert torch.bincount(labels[subset], minlength=10).tolist() == [5] * 10
    with pytest.raises(ValueError, match="larger than the 1437 training images"):
        bd.labelled_subset(data, 2000, seed=0)


def test_config_refuses_bad_values():
    for fields, message in [
        ({"numz": 0}, "numz must be at least 1"),
        ({"num_mcmc": 0}, "num_mcmc must be at least 1"),
        ({"lr": -1e-3}, "lr must be a finite number above 0"),
        ({"dataset": "lsun"}, "dataset must be one of"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of .adam., .sgd."),
        ({"semi_supervised": True, "wasserstein": True}, "cannot be --semi_supervised"),
    ]:
        with pytest.raises(ValueError, match=message):
            tiny(**fields)


def test_a_short_semi_supervised_run_saves_and_loads_a_classifier(tmp_path, digits_path):
    data = Digits(digits_path)
    config = tiny(semi_supervised=True, labels=50, train_iter=6, burn_in=3, n_save=3)
    lines = []
    result = bd.train(config, data, "cpu", quiet=True, log=lines.append)
    assert [e["phase"] for e in result.log] == ["adam"] * 3 + ["sghmc"] * 3
    assert all(np.isfinite([e["d_energy"], e["g_energy"]]).all() for e in result.log)
    assert len(lines) == 2 and "test accuracy" in lines[-1]
    assert 0 <= result.extra["test_accuracy"] <= 1
    assert result.extra["samples"][6].shape == (2, 16, 1, 8, 8)
    path = checkpoint.save(result, tmp_path / "model.pt")
    classifier = bd.load_classifier(str(path), device="cpu")
    test_x = bd.to_tensor(data.test_imgs)
    predicted = classifier.predict(test_x)
    assert predicted.shape == (len(test_x),) and predicted.max() < 10
    expected = result["classifier"].predict(test_x)
    assert torch.equal(predicted, expected)
    with pytest.raises(ValueError, match="no classifier"):
        unsupervised = bd.train(tiny(train_iter=1), data, "cpu", quiet=True)
        bd.load_classifier(str(checkpoint.save(unsupervised, tmp_path / "u.pt")), "cpu")


def test_wasserstein_and_ensemble_runs_are_finite(digits_path):
    data = Digits(digits_path)
    for config in (
        tiny(wasserstein=True, train_iter=3, burn_in=1),
        tiny(ml_ensemble=2, train_iter=3),
    ):
        result = bd.train(copy.deepcopy(config), data, "cpu", quiet=True)
        assert np.isfinite([e["d_energy"] for e in result.log]).all()
        assert len(result["G"]) == config.num_generators


def test_sampler_steps_are_alpha_lr_over_n_after_burn_in():
    config = tiny(lr=1e-3, alpha=0.1, gen_observed=500)
    models = bd.build(config.to_dict())
    gen = torch.Generator()
    opt_g, opt_d = images_training._optimizers(models["G"], models["D"], config, False, 2000, gen)
    assert isinstance(opt_g, torch.optim.Adam) and opt_g.param_groups[0]["lr"] == 1e-3
    opt_g, opt_d = images_training._optimizers(models["G"], models["D"], config, True, 2000, gen)
    assert opt_d.param_groups[0]["lr"] == pytest.approx(0.1 * 1e-3 / 2000)
    assert opt_g.param_groups[0]["lr"] == pytest.approx(0.1 * 1e-3 / 500)
    assert opt_g.param_groups[0]["temperature"] == 1.0
    # momentum SGD before the burn-in ends: the same sampler without noise
    sgd = replace(config, optimizer="sgd")
    opt_g, _ = images_training._optimizers(models["G"], models["D"], sgd, False, 2000, gen)
    assert opt_g.param_groups[0]["temperature"] == 0.0

