import matplotlib

matplotlib.use("Agg")


from ganbook.bayesian import explorer as bgan_explore  # noqa: E402
from ganbook.bayesian.synthetic import config_for  # noqa: E402


def test_explorer_trains_the_sliders_run_and_then_loads_it():
    ui = bgan_explore.Explorer(scale="smoke")
    ui.numz.value, ui.num_mcmc.value, ui.iterations.value = 2, 2, 50
    config = ui.config()
    assert (config.numz, config.num_mcmc, config.train_iter) == (2, 2, 50)
    assert config == config_for("smoke", numz=2, num_mcmc=2, train_iter=50)
    result = ui.run()
    assert [entry["iteration"] for entry in result.log] == [50]
    assert "JS" in ui.status.value and not ui.button.disabled
    # the redrawn figure replaces the previous one
    assert len(ui.output.outputs) == 1 and "image/png" in ui.output.outputs[0]["data"]
    again = ui.run()  # same sliders: from the cache, drawn once
    assert again.log == result.log


def test_grid_figure_and_frame():
    grid = bgan_explore.train_grid([1, 2], [1], scale="smoke")
    assert set(grid) == {(1, 1), (2, 1)}
    fig = bgan_explore.plot_grid(grid)
    assert len(fig.axes) == 2 and "J=2 M=1" in fig.axes[1].get_title()
    frame = bgan_explore.js_frame(grid, ["numz", "num_mcmc"])
    assert set(frame["numz"]) == {1, 2} and {"iteration", "js"} <= set(frame.columns)
