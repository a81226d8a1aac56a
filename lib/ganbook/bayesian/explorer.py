"""Exploring numz (J) and num_mcmc (M) on the synthetic task: plots, a grid, a live widget.

``plot_pca`` and ``plot_js`` draw what the original ``bgan_synth`` saved as
pictures (the generated points in the data's 2-D PCA plane, and the JS
divergence against iteration). ``train_grid`` and ``plot_grid`` give the
static figure over a numz x num_mcmc grid that the rendered book shows, and
:class:`Explorer` the sliders and Run button that retrain and redraw live in
a running notebook.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Image

from ganbook.bayesian.divergence import JSEstimator
from ganbook.bayesian.synthetic import SynthConfig, config_for, js_estimator, trained
from ganbook.core.checkpoint import Checkpoint

REAL_COLOUR = "0.75"


def plot_pca(
    ax: plt.Axes,
    estimator: JSEstimator,
    points: np.ndarray,
    num_generators: int = 1,
    title: str = "",
    real_points: int = 3000,
) -> plt.Axes:
    """Generated points (2-D PCA coordinates) over the data, one colour per generator.

    ``points`` is pooled generator by generator, as :func:`ganbook.bayesian.synthetic.generate`
    returns them, so ``num_generators`` equal blocks get their own colours.
    """
    real = estimator.real_2d[:: max(1, len(estimator.real_2d) // real_points)]
    ax.scatter(real[:, 0], real[:, 1], s=2, c=REAL_COLOUR, label="data", rasterized=True)
    colours = sns.color_palette("tab10", max(1, min(num_generators, 10)))
    for k, block in enumerate(np.array_split(points, num_generators)):
        ax.scatter(block[:, 0], block[:, 1], s=2, color=colours[k % 10], rasterized=True)
    lo, hi = estimator.real_2d.min(0) - 1, estimator.real_2d.max(0) + 1
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return ax


def js_frame(results: dict[Any, Checkpoint], names: Sequence[str]) -> pd.DataFrame:
    """One row per evaluation: the result's key split into ``names``, iteration and JS."""
    rows = []
    for key, result in results.items():
        key = key if isinstance(key, tuple) else (key,)
        for entry in result.log:
            rows.append({**dict(zip(names, key, strict=True)), **entry})
    return pd.DataFrame(rows)


def plot_js(ax: plt.Axes, frame: pd.DataFrame, hue: str = "method") -> plt.Axes:
    """JS against iteration: the mean over seeds, with a band from the lowest to the highest."""
    sns.lineplot(
        data=frame, x="iteration", y="js", hue=hue, errorbar=("pi", 100), marker="o", ax=ax
    )
    ax.set_ylabel("JS divergence (nats)")
    ax.set_ylim(0, None)
    ax.legend(title=hue, fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return ax


def train_grid(
    numz_values: Sequence[int],
    num_mcmc_values: Sequence[int],
    scale: str | None = None,
    seed: int = 0,
) -> dict[tuple[int, int], Checkpoint]:
    """The (cached) runs over numz x num_mcmc at ``scale``, keyed by (numz, num_mcmc)."""
    return {
        (j, m): trained(config_for(scale, numz=j, num_mcmc=m, seed=seed))
        for m in num_mcmc_values
        for j in numz_values
    }


def plot_grid(results: dict[tuple[int, int], Checkpoint], size: float = 2.0) -> plt.Figure:
    """One PCA panel per (numz, num_mcmc): columns numz, rows num_mcmc, final JS in titles."""
    numz_values = sorted({j for j, _ in results})
    mcmc_values = sorted({m for _, m in results})
    fig, axes = plt.subplots(
        len(mcmc_values),
        len(numz_values),
        figsize=(size * len(numz_values), size * len(mcmc_values) + 0.3),
        squeeze=False,
    )
    for (j, m), result in results.items():
        config = SynthConfig(**result.config)
        estimator = js_estimator(config.x_dim)
        last = max(result.extra["points"])
        ax = axes[mcmc_values.index(m)][numz_values.index(j)]
        title = f"J={j} M={m}: JS {result.log[-1]['js']:.3f}"
        plot_pca(ax, estimator, result.extra["points"][last], config.num_generators, title)
    fig.tight_layout()
    return fig


class Explorer:
    """Sliders for numz, num_mcmc and iterations and a Run button that trains and redraws.

    Display it in a notebook (``display(Explorer())``, or make it a cell's last
    line); every evaluation redraws the JS curve and the PCA scatter. A run
    with settings seen before loads from the cache and draws its final state.
    ``run()`` does what the button does and returns the result.
    """

    def __init__(self, scale: str | None = None, seed: int = 0) -> None:
        import ipywidgets as w

        self.scale, self.seed = scale, seed
        default = config_for(scale)
        style = {"description_width": "110px"}
        self.numz = w.IntSlider(10, min=1, max=10, description="numz (J)", style=style)
        self.num_mcmc = w.IntSlider(1, min=1, max=4, description="num_mcmc (M)", style=style)
        self.iterations = w.IntSlider(
            default.train_iter,
            min=default.eval_every,
            max=max(5000, default.train_iter),
            step=default.eval_every,
            description="iterations",
            style=style,
        )
        self.button = w.Button(description="Run", button_style="primary", icon="play")
        self.status = w.HTML()
        self.output = w.Output()
        self.button.on_click(lambda _: self.run())
        self.widget = w.VBox(
            [
                w.HBox([self.numz, self.num_mcmc, self.iterations]),
                w.HBox([self.button, self.status]),
                self.output,
            ]
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def config(self) -> SynthConfig:
        """The run the sliders describe."""
        return config_for(
            self.scale,
            numz=self.numz.value,
            num_mcmc=self.num_mcmc.value,
            train_iter=self.iterations.value,
            seed=self.seed,
        )

    def run(self) -> Checkpoint:
        """Train (or load) the sliders' run, redrawing at every evaluation."""
        config = self.config()
        estimator = js_estimator(config.x_dim)
        history: list[dict[str, Any]] = []
        self.button.disabled = True
        self.status.value = f"training {config.num_generators} generator(s) ..."

        def redraw(points: np.ndarray) -> None:
            fig, (ax_js, ax_pca) = plt.subplots(1, 2, figsize=(8.0, 3.4))
            frame = pd.DataFrame(history)
            ax_js.plot(frame["iteration"], frame["js"], marker="o")
            ax_js.set_xlim(0, config.train_iter)
            ax_js.set_ylim(0, max(0.7, frame["js"].max() * 1.05))
            ax_js.set(xlabel="iteration", ylabel="JS divergence (nats)")
            title = f"J={config.numz} M={config.num_mcmc}, iteration {history[-1]['iteration']}"
            plot_pca(ax_pca, estimator, points, config.num_generators, title)
            fig.tight_layout()
            png = io.BytesIO()
            fig.savefig(png, format="png")
            plt.close(fig)
            self.output.outputs = ()
            self.output.append_display_data(Image(data=png.getvalue(), format="png"))

        def on_eval(entry: dict[str, Any], fake: np.ndarray, models: dict) -> None:
            history.append(entry)
            redraw(estimator.project(fake))

        try:
            result = trained(config, quiet=True, on_eval=on_eval)
            if not history:
                history.extend(result.log)
                redraw(result.extra["points"][max(result.extra["points"])])
            self.status.value = (
                f"JS {result.log[-1]['js']:.3f} after {config.train_iter} iterations"
            )
        finally:
            self.button.disabled = False
        return result
