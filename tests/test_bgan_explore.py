import matplotlib
import pandas as pd
import pytest

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
    assert pd.DataFrame(again.log).equals(pd.DataFrame(result.log))  # NaN where NaN


def test_grid_figure_and_frame():
    grid = bgan_explore.train_grid([1, 2], [1], scale="smoke")
    assert set(grid) == {(1, 1), (2, 1)}
    fig = bgan_explore.plot_grid(grid)
    assert len(fig.axes) == 2 and "J=2 M=1" in fig.axes[1].get_title()
    frame = bgan_explore.js_frame(grid, ["numz", "num_mcmc"])
    assert set(frame["numz"]) == {1, 2} and {"iteration", "js"} <= set(frame.columns)


def test_grid_widget_links_each_slider_to_its_stacks_in_the_browser():
    import ipywidgets as w
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link

    grid = bgan_explore.train_grid([1, 2], [1, 2], scale="smoke")
    box = bgan_explore.grid_widget(grid)
    (numz, mcmc), shown = box.children[0].children, box.children[1]
    assert list(numz.options) == [1, 2] and list(mcmc.options) == [1, 2]
    assert isinstance(shown, w.Stack) and len(shown.children) == 2
    pictures = [image.value for row in shown.children for image in row.children]
    assert len(pictures) == 4 and len(set(pictures)) == 4  # one picture per (J, M)
    assert shown.selected_index == numz.index == 1  # numz starts at its largest value
    links = [x for x in _instances.values() if isinstance(x, Link)]
    pairs = {(link.source[0].model_id, link.target[0].model_id) for link in links}
    assert (numz.model_id, shown.model_id) in pairs
    for row in shown.children:
        assert (mcmc.model_id, row.model_id) in pairs
        assert row.selected_index == mcmc.index == 0
    assert all(link.source[1] == "index" for link in links if link.source[0] in (numz, mcmc))


def test_explorer_estimates_the_time_before_run():
    ui = bgan_explore.Explorer(scale="smoke", seconds={(1, 1): 10.0, (2, 2): 80.0})
    assert ui.iterations.max == config_for("smoke").train_iter
    ui.numz.value, ui.num_mcmc.value, ui.iterations.value = 2, 2, 100
    assert ui.estimate() == pytest.approx(80.0)
    ui.iterations.value = 50
    assert ui.estimate() == pytest.approx(40.0)
    assert "about 40 s" in ui.status.value
    assert bgan_explore.Explorer(scale="smoke").estimate() is None
