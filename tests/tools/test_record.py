"""scripts/measure/record.py: a measuring command's row in docs/measurements.md is one table row
with the date and the commit, whatever its text holds."""

from __future__ import annotations

import datetime
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "measure"))

import record


def test_a_row_names_date_and_commit_and_stays_one_table_row():
    row = record.row("`make test`", "1 | 2\nlines", "`time make test`", datetime.date(2026, 12, 7))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[0] == "2026-12-07"
    assert cells[1].split("-")[0] == record.commit().split("-")[0] and len(cells[1]) >= 7
    assert cells[3] == "1 \\| 2 lines" and "\n" not in row


def test_the_page_ends_in_the_table_it_appends_to():
    last = record.PAGE.read_text().rstrip("\n").splitlines()[-1]
    assert last.startswith("| 20") and last.count(" | ") >= 4
