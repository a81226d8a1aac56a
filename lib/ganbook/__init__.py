"""Training code for the GAN book: one module per idea.

settings    scale, device, seed and folders shared by every chapter
data        MNIST (full through torchvision, or the offline sample)
checkpoint  save, load and cache trained models
metrics     digit classifier, class histogram, Inception score, Fréchet distance
plots       the book's plot style and image grids
progress    progress bars for long loops
source      show a lib function's source in a notebook
gan         chapter 1: the vanilla MNIST GAN
dcgan       chapter 2: DCGAN, its training, the comparison of improved techniques
improved    feature matching and minibatch discrimination (Salimans et al.)
datasets    CIFAR-10, SVHN and CelebA from a user-given folder
probe       linear classifier on a discriminator's features
latent      linear and spherical paths through the latent space
ssgan       chapter 3: the 11-class semi-supervised GAN, the K-logit form, a supervised baseline
train       command line: ``python -m ganbook.train MODEL --scale --seed --out``
sghmc       chapter 4: the SGHMC sampler as a torch optimizer
bayesian_gan  chapter 4: the Bayesian GAN's posteriors, J x M weight samples stacked
synthetic   chapter 4: the synthetic experiment (data, networks, JS divergence, training)
bgan_synth  command line: ``python -m ganbook.bgan_synth`` (the original script's flags)
bgan_explore  chapter 4: numz x num_mcmc grid, plots and the live widget
bench_bgan  command line: looped against batched J x M step time
bayesian_dcgan  chapter 4: the Bayesian GAN on images (DCGAN weights, semi-supervised, ensembles)
bgan_util   chapter 4: image data sets with the original's interface, the custom digits set
bayesian_gan_hmc  command line: ``python -m ganbook.bayesian_gan_hmc`` (the original's flags)
mhgan       chapter 5: rejection sampling, DRS, the MH-GAN sampler, isotonic calibration
toy         chapter 5: the 1-D mixture and the 5x5 grid, their GANs and metrics
sample      command line: ``python -m ganbook.sample MODEL_DIR --method mh ...``
results     the numbers each chapter glued, read back for the results page
bench       command line: every chapter's training speed and memory (``make bench``)
cli         what the command lines share: one-line errors, argument types, output folders
"""

__version__ = "0.1.0"
