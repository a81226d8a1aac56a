"""Chapter 4: the Bayesian GAN (Saatchi and Wilson, 2017).

sghmc             the SGHMC sampler (Chen et al., 2014) as a torch optimizer: Algorithm 1's
                  v <- (1 - alpha) v - eta grad U + N(0, 2 alpha eta), theta <- theta + v
posterior         the posteriors p(theta_g | z, theta_d) and p(theta_d | z, X, theta_g),
                  J x M weight samples stacked into one batched network
synthetic         the paper's synthetic experiment: data, networks, training
divergence        its JS divergence: a 2-D PCA, KDEs on a grid, the masses compared
explorer          the numz x num_mcmc grid, its plots and the live widget
images            the Bayesian GAN over DCGAN weights, unsupervised and semi-supervised:
                  the public names of the three modules below
images_model      its networks, config and posterior-averaged classifier
images_posterior  its energies, for networks with BatchNorm
images_training   its burn-in and SGHMC sampling, held-out accuracy, the model cache
speed             looped against batched J x M step time
"""
