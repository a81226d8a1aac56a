"""The layer every chapter stands on.

settings    scale, device, seed and folders (``GANBOOK_SCALE``, ``GANBOOK_DEVICE`` ...)
config      the base of every chapter's config: fields checked the same way
checkpoint  save, load and cache trained models; chapters register their model kinds
losses      the losses of the original GAN game on D's logits, and feature matching
loop        the alternating D/G training loop with samples and monitoring
sampling    drawing z, eval mode, turning a generator into images
batchnorm   BatchNorm statistics re-estimated on real images before scoring
progress    progress bars for long loops
plots       the book's plot style and image grids
source      show the source of a library function in a notebook
results     the numbers each chapter glued, read back for the results page
"""
