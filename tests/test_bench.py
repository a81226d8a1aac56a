import json

import bench


def test_stored_seconds_spans_the_cells_timestamps(tmp_path):
    cells = [
        {
            "metadata": {
                "execution": {
                    "iopub.execute_input": "2026-01-01T10:00:00.0Z",
                    "shell.execute_reply": "2026-01-01T10:00:02.5Z",
                }
            }
        },
        {"metadata": {}},
        {
            "metadata": {
                "execution": {
                    "iopub.execute_input": "2026-01-01T10:00:03.0Z",
                    "shell.execute_reply": "2026-01-01T10:01:10.0Z",
                }
            }
        },
    ]
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    assert bench.stored_seconds(path) == 70.0
    path.write_text(json.dumps({"cells": [{"metadata": {}}]}))
    assert bench.stored_seconds(path) is None


def test_bad_steps_exit_2(capsys):
    assert bench.main(["--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err


def test_a_chapter_row_and_the_notebook_table(capsys):
    assert bench.main(["--chapters", "1", "--steps", "3"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| 1 |"))
    cells = row.strip("| ").split(" | ")
    assert cells[1] == "GAN (MLP), batch 32" and len(cells) == 4
    assert "01_gan_basics.ipynb" in out


def test_measure_divides_steps_by_the_time_they_took(monkeypatch):
    import time

    monkeypatch.setitem(bench.CHAPTERS, "x", ("sleeper", lambda n: time.sleep(0.02 * n)))
    row = bench.measure("x", steps=5)
    assert row["model"] == "sleeper"
    assert 35 < row["steps_per_s"] <= 50  # 0.02 s a step: at most 50 steps/s
    assert row["peak_mb"] > 10
