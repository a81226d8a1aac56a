"""Paper-scale dry run: each chapter's ``paper`` config, at its real widths and image
sizes, builds and trains for two steps on the CPU.

The book's machines never run ``paper`` scale (it is meant for a GPU); this checks that
its shapes fit together, so the first GPU run does not fail on a shape. Only the number
of steps (and, where a step is costly, the batch) is cut.
"""

import math

import pytest
import torch

from ganbook.data import load_mnist

CPU = torch.device("cpu")


def _finite(checkpoint):
    for model in checkpoint.models.values():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                assert torch.isfinite(tensor).all(), f"{name} is not finite"


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_chapter1_paper():
    from ganbook.vanilla import gan

    config = gan.config_for("paper", steps=2, sample_every=1)
    result = gan.train(config, device=CPU, quiet=True)
    assert len(result.log) == 2 and result.extra["samples"][2].shape[1:] == (1, 28, 28)
    _finite(result)


def test_chapter2_paper():
    from ganbook import dcgan

    config = dcgan.config_for("paper", steps=2, sample_every=1)
    assert config.width == 64 and config.batch_size == 128
    result = dcgan.train(config, device=CPU, quiet=True)
    assert len(result.log) == 2
    _finite(result)


def test_chapter3_paper():
    from ganbook import ssl as ssgan

    config = ssgan.config_for("paper", steps=2, batch_size=16, labelled_batch=8, eval_every=2)
    assert config.image_size == 64 and config.width == 1.0
    models = ssgan.build(config.to_dict())
    assert _count(models["classifier"]) > 7_000_000, "the 128-256-512-1024 discriminator"
    test = load_mnist("test")
    result = ssgan.train(config, None, (test.images[:50], test.labels[:50]), CPU, quiet=True)
    assert 0.0 <= result.extra["test_accuracy"] <= 1.0
    _finite(result)


def test_chapter4_synthetic_paper():
    from ganbook.bayesian import synthetic

    config = synthetic.config_for("paper", train_iter=2, eval_every=1, eval_points=640)
    result = synthetic.train(config, device=CPU, quiet=True)
    assert len(result["G"]) == config.numz * config.num_mcmc
    assert all(math.isfinite(entry["js"]) for entry in result.log)


def test_chapter4_images_paper():
    from ganbook.bayesian import images

    config = images.config_for("paper", train_iter=2, burn_in=1, n_save=1, batch_size=8)
    assert (config.width, config.z_dim, config.numz, config.num_mcmc) == (64, 100, 5, 5)
    result = images.train(config, device=CPU, quiet=True)
    assert len(result["G"]) == 25
    _finite(result)


@pytest.mark.parametrize("task", ["mog1d", "grid25"])
def test_chapter5_toys_paper(task):
    from ganbook.selection import toys

    config = toys.config_for("paper", task=task)
    assert config.steps == 5 * toys.config_for("book", task=task).steps
    result = toys.train(toys.config_for("paper", task=task, steps=2), CPU, quiet=True)
    _finite(result)
