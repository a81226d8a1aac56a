"""The layer every chapter stands on.

settings    scale, device, seed and folders (``GANBOOK_SCALE``, ``GANBOOK_DEVICE`` ...)
checkpoint  save, load and cache trained models; chapters register their model kinds
losses      the binary cross-entropy losses of the original GAN game
sampling    drawing z and turning a generator into images
progress    progress bars for long loops
plots       the book's plot style and image grids
source      show the source of a library function in a notebook
results     the numbers each chapter glued, read back for the results page
"""
