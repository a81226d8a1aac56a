"""Exploring numz (J) and num_mcmc (M) on the synthetic task: plots, a grid, a live widget.

``plot_pca`` and ``plot_js`` draw what the original ``bgan_synth`` saved as
pictures (the generated points in the data's 2-D PCA plane, and the JS
divergence against iteration). ``train_grid`` trains a numz x num_mcmc grid;
:func:`grid_widget` shows it through sliders that need no kernel (one picture
per setting, chosen in the browser), which is what the rendered book offers;
:class:`Explorer` gives the sliders and Run button that retrain and redraw live
in a running notebook.
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


def run_figure(result: Checkpoint) -> bytes:
    """One run as a PNG: its JS curve (and the kept samples') beside its last PCA scatter."""
    config = SynthConfig(**result.config)
    estimator = js_estimator(config.x_dim)
    frame = pd.DataFrame(result.log)
    fig, (ax_js, ax_pca) = plt.subplots(1, 2, figsize=(8.0, 3.4))
    ax_js.plot(frame["iteration"], frame["js"], marker="o", label="current generators")
    if "js_chain" in frame and frame["js_chain"].notna().any():
        ax_js.plot(frame["iteration"], frame["js_chain"], marker="s", label="kept samples")
        ax_js.legend(fontsize="small")
    ax_js.set_xlim(0, config.train_iter)
    ax_js.set_ylim(0, max(0.7, frame["js"].max() * 1.05))
    ax_js.set(xlabel="iteration", ylabel="JS divergence (nats)")
    step = int(frame["iteration"].iloc[-1])
    title = f"J={config.numz} M={config.num_mcmc}, iteration {step}: JS {frame['js'].iloc[-1]:.3f}"
    points = result.extra["points"]
    plot_pca(
        ax_pca, estimator, points[max(p for p in points if p <= step)], config.num_generators, title
    )
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=72)
    plt.close(fig)
    return png.getvalue()


def grid_widget(results: dict[tuple[int, int], Checkpoint]) -> Any:
    """Sliders for numz and num_mcmc over precomputed runs, working without a kernel.

    Every run is one picture (:func:`run_figure`). The pictures of one numz sit
    in a ``Stack`` whose ``selected_index`` is linked in the browser
    (``jslink``) to the num_mcmc slider; those stacks sit in an outer
    ``Stack`` linked to the numz slider. The links live in the page, so the
    saved widget state of an executed notebook keeps them working where no
    kernel runs, as in the rendered book.
    """
    import ipywidgets as w

    numz_values = sorted({j for j, _ in results})
    mcmc_values = sorted({m for _, m in results})
    style = {"description_width": "110px"}
    numz = w.SelectionSlider(
        options=numz_values, value=numz_values[-1], description="numz (J)", style=style
    )
    mcmc = w.SelectionSlider(
        options=mcmc_values, value=mcmc_values[0], description="num_mcmc (M)", style=style
    )
    rows = []
    for j in numz_values:
        pictures = [w.Image(value=run_figure(results[j, m]), format="png") for m in mcmc_values]
        row = w.Stack(pictures, selected_index=mcmc.index)
        w.jslink((mcmc, "index"), (row, "selected_index"))
        rows.append(row)
    shown = w.Stack(rows, selected_index=numz.index)
    w.jslink((numz, "index"), (shown, "selected_index"))
    return w.VBox([w.HBox([numz, mcmc]), shown])


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
    ``run()`` does what the button does and returns the result. The ranges
    stop at the book's grid (numz 10, num_mcmc 4, the scale's iterations);
    ``seconds``, the measured times of that grid's runs keyed by (numz,
    num_mcmc), gives the estimate shown before Run.
    """

    def __init__(
        self,
        scale: str | None = None,
        seed: int = 0,
        seconds: dict[tuple[int, int], float] | None = None,
    ) -> None:
        import ipywidgets as w

        self.scale, self.seed = scale, seed
        self.seconds = seconds or {}
        default = config_for(scale)
        style = {"description_width": "110px"}
        self.numz = w.IntSlider(10, min=1, max=10, description="numz (J)", style=style)
        self.num_mcmc = w.IntSlider(1, min=1, max=4, description="num_mcmc (M)", style=style)
        self.iterations = w.IntSlider(
            default.train_iter,
            min=default.eval_every,
            max=default.train_iter,
            step=default.eval_every,
            description="iterations",
            style=style,
        )
        self.button = w.Button(description="Run", button_style="primary", icon="play")
        self.status = w.HTML()
        self.output = w.Output()
        self.button.on_click(lambda _: self.run())
        for slider in (self.numz, self.num_mcmc, self.iterations):
            slider.observe(lambda _: self._estimate(), names="value")
        self._estimate()
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

    def estimate(self) -> float | None:
        """Seconds the sliders' run should take: the grid's nearest run, scaled by J x M.

        None when no timings were given.
        """
        if not self.seconds:
            return None
        j, m = self.numz.value, self.num_mcmc.value
        (j0, m0), t0 = min(
            self.seconds.items(), key=lambda item: abs(item[0][0] * item[0][1] - j * m)
        )
        per_generator = t0 / (j0 * m0 * m0)  # D's cost grows with M discriminators too
        return per_generator * j * m * m * self.iterations.value / config_for(self.scale).train_iter

    def _estimate(self) -> None:
        seconds = self.estimate()
        self.status.value = "" if seconds is None else f"about {seconds:.0f} s on this book's CPU"

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
        history: list[dict[str, Any]] = []
        self.button.disabled = True
        self.status.value = f"training {config.num_generators} generator(s) ..."

        def show(png: bytes) -> None:
            self.output.outputs = ()
            self.output.append_display_data(Image(data=png, format="png"))

        def on_eval(entry: dict[str, Any], fake: np.ndarray, models: dict) -> None:
            history.append(entry)
            estimator = js_estimator(config.x_dim)
            partial = Checkpoint(
                "bgan_synth",
                config.to_dict(),
                {},
                list(history),
                {"points": {entry["iteration"]: estimator.project(fake)}},
            )
            show(run_figure(partial))

        try:
            result = trained(config, quiet=True, on_eval=on_eval)
            if not history:
                show(run_figure(result))
            self.status.value = (
                f"JS {result.log[-1]['js']:.3f} after {config.train_iter} iterations"
            )
        finally:
            self.button.disabled = False
        return result
