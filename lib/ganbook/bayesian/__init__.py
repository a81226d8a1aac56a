"""Chapter 4: the Bayesian GAN (Saatchi and Wilson, 2017).

sghmc      the SGHMC sampler (Chen et al., 2014) as a torch optimizer: Algorithm 1's
           v <- (1 - alpha) v - eta grad U + N(0, 2 alpha eta), theta <- theta + v
posterior  the posteriors p(theta_g | z, theta_d) and p(theta_d | z, X, theta_g),
           J x M weight samples stacked into one batched network
synthetic  the paper's synthetic experiment: data, networks, JS divergence, training
explorer   the numz x num_mcmc grid, its plots and the live widget
images     the Bayesian GAN over DCGAN weights: unsupervised and semi-supervised
speed      looped against batched J x M step time
"""
