import json
from pathlib import Path

import pytest

from ganbook.core import results

BOOK = Path(__file__).resolve().parent.parent / "book"


def _record(name, value):
    return {
        "output_type": "display_data",
        "data": {"application/papermill.record/text/plain": repr(value)},
        "metadata": {"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
    }


def test_glued_values_and_tables_round_trip(tmp_path):
    table = [{"model": "klogit", "labels": 100, "mean": 0.9}]
    cells = [
        {"cell_type": "code", "outputs": [_record("acc", 0.893), _record("n", 3)]},
        {"cell_type": "markdown"},
        {"cell_type": "code", "outputs": [_record("table", json.dumps(table))]},
    ]
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    values = results.glued(path)
    assert values["acc"] == 0.893 and values["n"] == 3
    assert results.glued_table(path, "table") == table
    with pytest.raises(KeyError, match="glues no 'missing'"):
        results.glued_table(path, "missing")


def test_the_stored_chapters_glue_their_headline_numbers():
    ch3 = results.glued(BOOK / "03_ssl_gan")
    assert 0 < ch3["acc100_supervised"] < 100
    rows = results.glued_table(BOOK / "03_ssl_gan", "accuracy_table")
    assert {row["model"] for row in rows} == {"eleven", "klogit", "supervised"}
    with pytest.raises(FileNotFoundError):
        results.glued(BOOK / "no_such_chapter")
