"""Training code for the GAN book; the folders follow the book's chapters.

core       settings, checkpoints, losses, sampling, progress, plots (every chapter's base)
data       MNIST, CIFAR-10/SVHN/CelebA, the original Bayesian GAN's data interface
metrics    the MNIST classifier, Inception score, Fréchet distance, the linear probe
vanilla    chapter 1: the vanilla MNIST GAN
dcgan      chapter 2: DCGAN, feature matching, minibatch discrimination
ssl        chapter 3: the semi-supervised GAN
bayesian   chapter 4: the Bayesian GAN
selection  chapter 5: rejection sampling, DRS, the Metropolis-Hastings GAN
cli        the command lines
"""

__version__ = "0.1.0"
