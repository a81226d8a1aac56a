"""Every chapter offers the same four doors, with the same signatures."""

import inspect

import pytest

import ganbook.bayesian.images
import ganbook.bayesian.synthetic
import ganbook.dcgan
import ganbook.dcgan.conditional
import ganbook.selection
import ganbook.ssl
import ganbook.vanilla
from ganbook.core.config import Config

CHAPTERS = [
    ganbook.vanilla,
    ganbook.dcgan,
    ganbook.dcgan.conditional,
    ganbook.ssl,
    ganbook.bayesian.synthetic,
    ganbook.bayesian.images,
    ganbook.selection,
]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda m: m.__name__)
def test_config_for_build_train_trained(chapter):
    config_for = inspect.signature(chapter.config_for)
    assert list(config_for.parameters)[0] == "scale"
    assert all(
        p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in list(config_for.parameters.values())[1:]
    ), "config_for(scale=None, **overrides): everything after scale is a keyword"
    config = chapter.config_for("smoke")
    assert isinstance(config, Config)
    models = chapter.build(config.to_dict())
    assert models and all(hasattr(m, "parameters") for m in models.values())
    assert list(inspect.signature(chapter.train).parameters)[0] == "config"
    trained = inspect.signature(chapter.trained).parameters
    assert list(trained)[0] == "config"
    assert trained["scale"].kind == trained["device"].kind == inspect.Parameter.KEYWORD_ONLY
    assert list(trained).index("scale") < list(trained).index("device")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda m: m.__name__)
def test_configs_check_themselves_the_same_way(chapter):
    config = chapter.config_for("smoke")
    with pytest.raises(ValueError, match="seed must be a whole number"):
        chapter.config_for("smoke", seed=1.5)
    with pytest.raises(ValueError, match="lr must be a finite number above 0"):
        chapter.config_for("smoke", lr=float("inf"))
    with pytest.raises(TypeError, match="has no field"):
        chapter.config_for("smoke", no_such_field=1)
    assert chapter.config_for("smoke", seed=config.seed) == config
