"""The command lines.

train             ``ganbook-train MODEL ...``: train a chapter's model into a folder
sample            ``ganbook-sample MODEL_DIR --method mh ...``: draw samples, with selection
bgan_synth        ``bgan_synth ...``: the original synthetic script, its flags unchanged
bayesian_gan_hmc  ``bayesian_gan_hmc ...``: the original image script, its flags unchanged
common            what they share: one-line errors, argument types, output folders
"""
