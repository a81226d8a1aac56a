"""Training code for the GAN book: one module per idea.

settings    scale, device, seed and folders shared by every chapter
data        MNIST (full through torchvision, or the offline sample)
checkpoint  save, load and cache trained models
metrics     digit classifier, class histogram, Inception score, Fréchet distance
plots       the book's plot style and image grids
progress    progress bars for long loops
source      show a lib function's source in a notebook
gan         chapter 1: the vanilla MNIST GAN
train       command line: ``python -m ganbook.train MODEL --scale --seed --out``
"""

__version__ = "0.1.0"
