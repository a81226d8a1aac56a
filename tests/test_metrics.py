import math

import numpy as np
import pytest
import torch

from ganbook import metrics


def test_inception_score_extremes():
    sharp_and_uniform = np.eye(10)[np.arange(100) % 10]
    assert metrics.inception_score(sharp_and_uniform) == pytest.approx(10.0, rel=1e-6)
    one_class = np.tile(np.eye(10)[3], (50, 1))
    assert metrics.inception_score(one_class) == pytest.approx(1.0)
    blurry = np.full((20, 10), 0.1)
    assert metrics.inception_score(blurry) == pytest.approx(1.0)


def test_inception_score_hand_computed():
    # two images, two classes: p(y|x) = (0.9, 0.1) and (0.1, 0.9); p(y) = (0.5, 0.5)
    probs = np.array([[0.9, 0.1], [0.1, 0.9]])
    kl = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert metrics.inception_score(probs) == pytest.approx(math.exp(kl))


def test_frechet_distance_hand_computed():
    mu, cov = np.zeros(3), np.diag([1.0, 4.0, 9.0])
    assert metrics.frechet_distance((mu, cov), (mu, cov)) == pytest.approx(0.0, abs=1e-9)
    shifted = (mu + np.array([1.0, 2.0, 2.0]), cov)
    assert metrics.frechet_distance((mu, cov), shifted) == pytest.approx(9.0)
    # diagonal covariances: sum of (sqrt a - sqrt b)^2
    other = (mu, np.diag([4.0, 4.0, 1.0]))
    assert metrics.frechet_distance((mu, cov), other) == pytest.approx(1 + 0 + 4)


def test_frechet_distance_with_singular_covariance():
    cov = np.diag([1.0, 0.0])
    value = metrics.frechet_distance((np.zeros(2), cov), (np.ones(2), cov))
    assert value == pytest.approx(2.0)


def test_class_histogram():
    shares = metrics.class_histogram(np.array([0, 0, 3, 9]))
    assert shares.shape == (10,) and shares.sum() == pytest.approx(1)
    assert shares[0] == 0.5 and shares[3] == 0.25 and shares[1] == 0


def test_confident_histogram_leaves_unsure_images_out():
    probs = np.array(
        [
            [0.95, 0.05, 0.0],  # confidently class 0
            [0.0, 0.9, 0.1],  # exactly at the threshold: class 1
            [0.5, 0.4, 0.1],  # unsure
            [0.1, 0.1, 0.8],  # unsure
        ]
    )
    shares = metrics.confident_histogram(probs)
    assert shares.tolist() == [0.25, 0.25, 0.0]
    assert metrics.confident_histogram(probs, threshold=0.5).tolist() == [0.5, 0.25, 0.25]


def test_evaluator_scores_real_digits_above_noise():
    evaluator = metrics.get_evaluator("smoke", "cpu")
    assert evaluator.test_accuracy > 0.7
    assert metrics.get_evaluator("smoke", "cpu") is evaluator  # kept in memory
    assert evaluator.samples == metrics.SAMPLES["smoke"] == len(evaluator.real_images())
    real = evaluator.real_scores()
    noise = evaluator.scores(torch.rand(evaluator.samples, 1, 28, 28) * 2 - 1)
    assert real["classes"] == 10 and real["max_share"] < 0.2 and real["unsure"] < 0.3
    assert real["IS"] > 3 * noise["IS"] / 2 and real["FID"] < noise["FID"] / 5
    assert set(real) == {"IS", "FID", "classes", "max_share", "unsure"}
    # blank images go to some class by argmax, but not confidently
    blank = evaluator.scores(torch.zeros(evaluator.samples, 1, 28, 28))
    assert blank["unsure"] > 0.5 and blank["classes"] < real["classes"]
    shares = evaluator.histogram(evaluator.real_images())
    assert shares.sum() == pytest.approx(1 - real["unsure"])


def test_evaluator_refuses_another_sample_size():
    evaluator = metrics.get_evaluator("smoke", "cpu")
    with pytest.raises(ValueError, match="1,000 images"):
        evaluator.scores(evaluator.real_images()[:500])


def test_nearest_neighbours_finds_copies_and_their_distance():
    reference = torch.stack([torch.full((1, 2, 2), v) for v in (0.0, 1.0, 3.0)])
    images = torch.stack([torch.full((1, 2, 2), v) for v in (1.0, 2.9, -1.0)])
    distances, indices = metrics.nearest_neighbours(images, reference, batch=2)
    assert indices.tolist() == [1, 2, 0]
    # four pixels each off by 0, 0.1 and 1: distances 0, 0.2 and 2
    assert distances.tolist() == pytest.approx([0.0, 0.2, 2.0], abs=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        metrics.nearest_neighbours(images, reference.flatten(1))


def test_class_share_bars_end_with_the_unsure_rest():
    import matplotlib

    matplotlib.use("Agg")
    from ganbook.core.plots import show_class_shares

    shares = np.array([0.5, 0.2] + [0.0] * 8)
    ax = show_class_shares(shares, title="x")
    heights = [bar.get_height() for bar in ax.patches]
    assert heights[:2] == [0.5, 0.2] and heights[-1] == pytest.approx(0.3)
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "unsure"
