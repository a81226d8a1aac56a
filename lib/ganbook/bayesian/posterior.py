"""The Bayesian GAN (Saatchi and Wilson 2017): posteriors over G and D, sampled in a batch.

The paper puts posteriors on the generator's weights theta_g and the
discriminator's weights theta_d (its equations 1 and 2)::

    p(theta_g | z, theta_d)    ∝ prod_i D(G(z_i; theta_g); theta_d) * p(theta_g | alpha_g)
    p(theta_d | z, X, theta_g) ∝ prod_i D(x_i; theta_d)
                                  * prod_i (1 - D(G(z_i; theta_g); theta_d)) * p(theta_d | alpha_d)

and marginalises z by simple Monte Carlo: ``numz`` (J) draws of z, and for
each ``num_mcmc`` (M) weight samples kept by SGHMC. So there are J x M
generator weight sets theta_g^{j,m} and J_d x M discriminator sets
theta_d^{j,m}. Each discriminator is trained on the samples of every
generator, and each generator against every discriminator, as the original
code does (the paper's Algorithm 1 sums over the samples with the same m).

As energies ``U = -log posterior`` on minibatches of n points (what
:func:`discriminator_energy` and :func:`generator_energy` return)::

    U_d = -(N / n) sum_i [log D(x_i) + mean_k log(1 - D(G(z_i; theta_g^k)))] - log p(theta_d)
    U_g = -(gen_observed / n) sum_i mean_k log D(G(z_i; theta_g); theta_d^k) - log p(theta_g)

The data terms are scaled by the data-set size N (the discriminator sees the
data) and by ``gen_observed``, the number of points the generator is taken to
have "observed". The prior is Gaussian, ``-log p(theta) = |theta|^2 /
(2 prior_std^2)`` (:func:`prior_energy`). The averages over k (where the paper
writes a sum) keep the weight of the data against the prior independent of J.
D has K + 1 outputs with class 0 "generated", as in the original; for an
unsupervised GAN K = 1 and D(x) is the softmax probability of class 1.

Batched sampling: :class:`Stacked` holds the weight sets of one network with a
leading axis of length J*M (or J_d*M) and runs them all in one call: batched
matrix products for an MLP, ``torch.func.vmap`` over ``functional_call`` for
any other network. Parameters and buffers are both stacked, so every weight
sample has its own BatchNorm statistics (the original shared them between
samples). One optimizer steps all of them: SGHMC and Adam update each number
on its own, so a stacked step is exactly the separate steps.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


class Stacked(nn.Module):
    """K weight samples of one architecture, stacked, run together.

    ``Stacked(models)`` takes K modules of the same architecture (their current
    weights become the K samples). ``forward(x)`` takes ``x`` of shape
    (K, n, ...) and returns (K, n, ...): sample k applied to ``x[k]``.
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        if not models:
            raise ValueError("Stacked needs at least one model")
        params, buffers = stack_module_state(list(models))
        self.param_names = list(params)
        self.buffer_names = list(buffers)
        self.stacked = nn.ParameterList([nn.Parameter(params[k].detach()) for k in params])
        for i, name in enumerate(self.buffer_names):
            self.register_buffer(f"buffer{i}", buffers[name].detach().clone())
        # The architecture without storage; a list keeps it out of the module tree.
        self._skeleton = [copy.deepcopy(models[0]).to("meta")]
        self.num_samples = len(models)

    def __len__(self) -> int:
        return self.num_samples

    @property
    def skeleton(self) -> nn.Module:
        """The single model's architecture, without storage (on the meta device)."""
        return self._skeleton[0]

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The stacked parameters and buffers, keyed by the single model's names."""
        params = dict(zip(self.param_names, self.stacked, strict=True))
        buffers = {name: getattr(self, f"buffer{i}") for i, name in enumerate(self.buffer_names)}
        return params, buffers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != self.num_samples:
            raise ValueError(
                f"expected {self.num_samples} inputs stacked on axis 0, got {x.shape[0]}"
            )
        skeleton = self._skeleton[0]
        if _is_mlp(skeleton):
            return self._mlp_forward(x)
        skeleton.train(self.training)

        def one(params: dict, buffers: dict, xi: torch.Tensor) -> torch.Tensor:
            return functional_call(skeleton, (params, buffers), (xi,))

        params, buffers = self.state()
        return vmap(one, randomness="different")(params, buffers, x)

    def _mlp_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Linear layers as batched matrix products (``torch.bmm``): less overhead than vmap."""
        params, _ = self.state()
        h = x.flatten(2)
        for name, layer in self._skeleton[0].named_children():
            if isinstance(layer, nn.Linear):
                weight = params[f"{name}.weight"]
                bias = params.get(f"{name}.bias")
                if bias is None:
                    h = torch.bmm(h, weight.transpose(1, 2))
                else:
                    h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            else:
                h = layer(h)
        return h

    def unstack(self) -> list[nn.Module]:
        """The K samples as separate ordinary modules (copies)."""
        params, buffers = self.state()
        device = self.stacked[0].device
        models = []
        for k in range(self.num_samples):
            model = copy.deepcopy(self._skeleton[0]).to_empty(device=device)
            values = {name: t[k].detach().clone() for name, t in {**params, **buffers}.items()}
            model.load_state_dict(values)
            model.train(self.training)
            models.append(model)
        return models


#: Layers that act on each number alone, so they apply to stacked inputs as they are.
_ELEMENTWISE = (nn.LeakyReLU, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity)


def _is_mlp(module: nn.Module) -> bool:
    """A Sequential of Linear layers and elementwise activations (no buffers)."""
    return isinstance(module, nn.Sequential) and all(
        isinstance(layer, (nn.Linear, *_ELEMENTWISE)) for layer in module
    )


def prior_energy(stack: Stacked, prior_std: float) -> torch.Tensor:
    """``-log p(theta_k) = |theta_k|^2 / (2 prior_std^2)`` for each sample k (shape (K,))."""
    if not prior_std > 0:
        raise ValueError(f"prior_std must be positive, got {prior_std}")
    total = sum(p.pow(2).flatten(1).sum(1) for p in stack.stacked)
    return total / (2 * prior_std**2)


def real_class_log_prob(logits: torch.Tensor) -> torch.Tensor:
    """log D(x): log of the probability of any real class (1..K), from K+1 logits."""
    log_p = F.log_softmax(logits, dim=-1)
    return log_p[..., 1] if logits.shape[-1] == 2 else torch.logsumexp(log_p[..., 1:], dim=-1)


def fake_class_log_prob(logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(x)): log of the probability of class 0, "generated"."""
    return F.log_softmax(logits, dim=-1)[..., 0]


def discriminator_energy(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, data_scale: float
) -> torch.Tensor:
    """Data term of U_d for each discriminator sample (shape (K_d,)).

    ``real_logits``: (K_d, n, K+1), D's outputs on the real minibatch;
    ``fake_logits``: (K_d, m, K+1), on the samples of every generator pooled
    (a mean over them is the mean over generators when each gives n).
    ``data_scale`` is N / n with N the data-set size, or 1 / n for the plain
    mean loss of an ML GAN.
    """
    n = real_logits.shape[1]
    real = real_class_log_prob(real_logits).sum(1)
    fake = fake_class_log_prob(fake_logits).mean(1) * n
    return -data_scale * (real + fake)


def generator_energy(fake_logits: torch.Tensor, data_scale: float) -> torch.Tensor:
    """Data term of U_g for each generator sample (shape (K_g,)).

    ``fake_logits``: (K_d, K_g, n, K+1), every discriminator's outputs on every
    generator's n samples. ``data_scale`` is gen_observed / n, or 1 / n for the
    plain mean loss of an ML GAN; the term is the non-saturating
    ``-log D(G(z))`` averaged over discriminators, summed over the batch.
    """
    return -data_scale * real_class_log_prob(fake_logits).mean(0).sum(-1)


def pool_for_discriminators(samples: torch.Tensor, num_discriminators: int) -> torch.Tensor:
    """(K_g, n, ...) generated samples -> (K_d, K_g * n, ...): every D sees all of them."""
    pooled = samples.reshape(1, -1, *samples.shape[2:])
    return pooled.expand(num_discriminators, *pooled.shape[1:])


def critic_energy(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, data_scale: float
) -> torch.Tensor:
    """Wasserstein data term of U_d per critic sample (shape (K_d,)).

    ``real_scores`` (K_d, n) and ``fake_scores`` (K_d, m) are the critic's
    values f(x); the critic is pushed up on data and down on samples:
    ``data_scale * (n mean f(fake) - sum f(real))``.
    """
    n = real_scores.shape[1]
    return data_scale * (fake_scores.mean(1) * n - real_scores.sum(1))


def gradient_penalty(
    D: Stacked, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """WGAN-GP's ``sum_i (|grad f(x_hat_i)| - 1)^2`` for each critic sample (shape (K_d,)).

    ``x_hat_i`` lies at a uniform random point between the real ``x_i`` and
    a generated point (the i-th point of generator i mod K_g), so the
    penalty sees every generator (Gulrajani et al. 2017).
    """
    k_g, n = fake.shape[:2]
    index = torch.arange(n, device=fake.device)
    partner = fake[index % k_g, index]
    eps = torch.rand(n, *([1] * (real.dim() - 1)), generator=generator).to(real.device)
    x_hat = (eps * real + (1 - eps) * partner).expand(len(D), *real.shape).clone()
    x_hat.requires_grad_(True)
    scores = D(x_hat)[..., 0]
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.flatten(2).norm(dim=2) - 1).pow(2).sum(1)


class Posterior:
    """The settings of the two energies: data-set size, gen_observed, prior_std, objective.

    With ``ml`` the energies are the plain mean losses of a maximum-likelihood
    GAN (no prior, and the optimizer adds no noise). ``objective`` is
    ``"gan"`` (D a K+1-way classifier, the paper's likelihood) or
    ``"wasserstein"`` (D a critic with one output, WGAN-GP with weight
    ``gp_weight``; the energies are then Gibbs posteriors of the WGAN losses).
    """

    def __init__(
        self,
        dataset_size: int,
        gen_observed: int,
        prior_std: float,
        ml: bool = False,
        objective: str = "gan",
        gp_weight: float = 10.0,
    ) -> None:
        if dataset_size < 1 or gen_observed < 1:
            raise ValueError("dataset_size and gen_observed must be at least 1")
        if not prior_std > 0:
            raise ValueError(f"prior_std must be positive, got {prior_std}")
        if objective not in ("gan", "wasserstein"):
            raise ValueError(f"objective must be 'gan' or 'wasserstein', got {objective!r}")
        self.dataset_size = dataset_size
        self.gen_observed = gen_observed
        self.prior_std = prior_std
        self.ml = ml
        self.objective = objective
        self.gp_weight = gp_weight

    def d_energy(
        self,
        D: Stacked,
        real: torch.Tensor,
        fake: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """U_d of each discriminator sample for a real batch (n, ...) and fakes (K_g, n, ...)."""
        n, k_d = real.shape[0], len(D)
        pooled = pool_for_discriminators(fake, k_d)
        logits = D(torch.cat([real.expand(k_d, *real.shape), pooled], dim=1))
        scale = 1 / n if self.ml else self.dataset_size / n
        if self.objective == "gan":
            energy = discriminator_energy(logits[:, :n], logits[:, n:], scale)
        else:
            energy = critic_energy(logits[:, :n, 0], logits[:, n:, 0], scale)
            energy = energy + scale * self.gp_weight * gradient_penalty(D, real, fake, generator)
        return energy if self.ml else energy + prior_energy(D, self.prior_std)

    def g_energy(self, G: Stacked, D: Stacked, fake: torch.Tensor) -> torch.Tensor:
        """U_g of each generator sample for its fakes (K_g, n, ...), against every D."""
        k_g, n, k_d = fake.shape[0], fake.shape[1], len(D)
        logits = D(pool_for_discriminators(fake, k_d)).reshape(k_d, k_g, n, -1)
        scale = 1 / n if self.ml else self.gen_observed / n
        if self.objective == "gan":
            energy = generator_energy(logits, scale)
        else:
            energy = -scale * logits[..., 0].mean(0).sum(-1)
        return energy if self.ml else energy + prior_energy(G, self.prior_std)


def d_step(
    G: Stacked,
    D: Stacked,
    opt_d: torch.optim.Optimizer,
    posterior: Posterior,
    real: torch.Tensor,
    z: torch.Tensor,
    generator: torch.Generator | None = None,
    extra_loss: torch.Tensor | None = None,
) -> torch.Tensor:
    """One update of every discriminator sample; returns U_d per sample (before the step).

    ``extra_loss`` is added to the summed energies before the backward pass
    (the original's noise term, for comparison).
    """
    with torch.no_grad():
        fake = G(z)
    energy = posterior.d_energy(D, real, fake, generator)
    opt_d.zero_grad(set_to_none=True)
    total = energy.sum() if extra_loss is None else energy.sum() + extra_loss
    total.backward()
    opt_d.step()
    return energy.detach()


def g_step(
    G: Stacked,
    D: Stacked,
    opt_g: torch.optim.Optimizer,
    posterior: Posterior,
    z: torch.Tensor,
    extra_loss: torch.Tensor | None = None,
) -> torch.Tensor:
    """One update of every generator sample (D held fixed); returns U_g per sample."""
    D.requires_grad_(False)
    try:
        energy = posterior.g_energy(G, D, G(z))
        opt_g.zero_grad(set_to_none=True)
        total = energy.sum() if extra_loss is None else energy.sum() + extra_loss
        total.backward()
        opt_g.step()
    finally:
        D.requires_grad_(True)
    return energy.detach()
