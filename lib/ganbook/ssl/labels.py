"""Which training images chapter 3 uses with their label, and the batches it draws.

What the seed got wrong, and this module fixes: its labelled mask is redrawn
for every batch (:func:`seed_labelled_mask`, kept as ``mask="redrawn"`` to
show the leak). Here the labelled subset is fixed and balanced
(:func:`labelled_subset`); :func:`labels_seen_by_epoch` counts the labels
each sampler really uses.
"""

from __future__ import annotations

import torch

from ganbook.data.subsets import labelled_subset
from ganbook.ssl.models import NUM_CLASSES

#: How the labelled images of a batch are chosen (see :class:`Batches`).
MASKS = ("separate", "fixed", "redrawn")


def label_count(spec: int | str, n_train: int) -> int:
    """Number of labelled images: an int, or a share such as ``"20%"`` of ``n_train``.

    A share is rounded to a multiple of 10 so that every class gets the same count.
    """
    if isinstance(spec, str):
        text = spec.strip()
        try:
            if text.endswith("%"):
                share = float(text[:-1]) / 100
                if not 0 < share <= 1:
                    raise ValueError
                count = NUM_CLASSES * round(share * n_train / NUM_CLASSES)
                if count == 0:
                    raise ValueError(
                        f"labels {text} of {n_train} images is fewer than one per class"
                    )
            else:
                count = int(text)
        except ValueError as exc:
            if "per class" in str(exc):
                raise
            raise ValueError(
                f"labels must be a count such as 100 or a share such as 20%, got {spec!r}"
            ) from None
    else:
        count = int(spec)
    if count < NUM_CLASSES or count % NUM_CLASSES or count > n_train:
        raise ValueError(
            f"labels must be a multiple of {NUM_CLASSES} between {NUM_CLASSES} and {n_train}, "
            f"got {count}"
        )
    return count


def seed_labelled_mask(
    labelled_rate: float, batch_size: int, generator: torch.Generator
) -> torch.Tensor:
    """The seed's ``get_labeled_mask``: int(batch * rate) ones at random places, redrawn per call.

    Called once per batch, so any training image can be labelled on one pass
    and unlabelled on the next: over a few epochs nearly every label is used.
    """
    mask = torch.zeros(batch_size)
    mask[: int(batch_size * labelled_rate)] = 1.0
    return mask[torch.randperm(batch_size, generator=generator)]


class Batches:
    """Draws real training batches (images, labels, labelled mask) for each step.

    ``separate`` (the comparison's): ``labelled_batch`` images from the fixed
    labelled subset followed by ``batch_size`` images drawn from the whole
    training set, whose labels are masked out (Salimans et al.'s sampler).
    ``fixed``: the seed's batches of ``batch_size`` with the mask marking the
    images that belong to the fixed subset (the smallest fix of the seed).
    ``redrawn``: the seed's batches and its mask, redrawn every batch.
    ``supervised=True`` gives only the labelled images of ``separate``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        subset: torch.Tensor,
        mask: str,
        batch_size: int,
        labelled_batch: int,
        generator: torch.Generator,
        supervised: bool = False,
    ):
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}")
        self.images, self.labels, self.subset = images, labels, subset
        self.mask, self.batch_size, self.labelled_batch = mask, batch_size, labelled_batch
        self.generator, self.supervised = generator, supervised
        self.in_subset = torch.zeros(len(labels), dtype=torch.bool)
        self.in_subset[subset] = True
        self.rate = len(subset) / len(labels)
        self.seen = torch.zeros(len(labels), dtype=torch.bool)

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, gen = len(self.labels), self.generator
        if self.mask == "separate" or self.supervised:
            pick = torch.randint(len(self.subset), (self.labelled_batch,), generator=gen)
            labelled = self.subset[pick]
            if self.supervised:
                index, mask = labelled, torch.ones(len(labelled))
            else:
                unlabelled = torch.randint(n, (self.batch_size,), generator=gen)
                index = torch.cat([labelled, unlabelled])
                mask = torch.cat([torch.ones(len(labelled)), torch.zeros(len(unlabelled))])
        else:
            index = torch.randint(n, (self.batch_size,), generator=gen)
            if self.mask == "fixed":
                mask = self.in_subset[index].float()
            else:
                mask = seed_labelled_mask(self.rate, self.batch_size, gen)
        self.seen[index[mask.bool()]] = True
        return self.images[index], self.labels[index], mask

    @property
    def labels_seen(self) -> int:
        """How many different training images have been used with their label."""
        return int(self.seen.sum())


def labels_seen_by_epoch(
    labels: torch.Tensor, count: int, mask: str, batch_size: int, epochs: int, seed: int = 0
) -> list[int]:
    """How many training images have been used with their label after each epoch.

    Runs only the batch sampler (no training): with the seed's ``redrawn``
    mask the count keeps growing towards the whole training set, with the
    ``fixed`` mask it stops at ``count``.
    """
    subset = labelled_subset(labels, count, seed)
    generator = torch.Generator().manual_seed(seed)
    placeholder = torch.empty(len(labels), 0)  # the sampler only needs indices
    batches = Batches(placeholder, labels, subset, mask, batch_size, batch_size, generator)
    seen = []
    for _ in range(epochs):
        for _ in range(len(labels) // batch_size):
            batches()
        seen.append(batches.labels_seen)
    return seen
