"""The thesis catalogue's transcribed tables: every cell parses, and every cell is in the thesis text."""

import re
from pathlib import Path

import pytest

from thesis_lib.core import catalogue

THESIS = Path(__file__).resolve().parents[2] / "shared" / "thesis" / "thesis.txt"


def test_every_table_parses():
    sizes = {t: len(catalogue.published(t)) for t in catalogue.TABLES}
    assert sizes["3.1"] == 2 * 5 * 3 and sizes["3.3"] == 2 * 2 * 6 and sizes["5.2"] == 6 * 4
    with pytest.raises(KeyError):
        catalogue.published("9.9")


def test_cells_appear_in_the_thesis_text():
    if not THESIS.is_file():
        pytest.skip("thesis text not beside the checkout")
    text = THESIS.read_text().replace(" +/- ", "±").replace(" ± ", "±")
    for table, entry in catalogue.TABLES.items():
        for body in entry.printed.values():
            for cells in body.values():
                for cell in cells:
                    assert re.search(re.escape(cell), text), f"table {table}: {cell} not in the thesis text"
