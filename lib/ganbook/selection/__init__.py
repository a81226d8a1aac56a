"""Chapter 5: choosing among a generator's samples with its discriminator.

mhgan  exact rejection sampling, discriminator rejection sampling (Azadi et al., 2019),
       the Metropolis-Hastings GAN (Turner et al., 2019) with acceptance
       min(1, (D(x_k)^-1 - 1) / (D(x')^-1 - 1)), and isotonic calibration of D
toys   the 1-D mixture and the 5x5 grid of Gaussians, their GANs and metrics
"""
