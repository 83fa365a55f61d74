"""scripts/make/flake_hunt.py: what it reads from a JUnit report, and how it tallies rounds."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "make"))

import flake_hunt

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.e2e.test_pipeline" name="test_ok" time="1.0"/>
  <testcase classname="tests.e2e.test_pipeline" name="test_bad" time="2.0">
    <failure message="AssertionError: order o-1 still PENDING&#10;after 60 s">trace</failure></testcase>
  <testcase classname="tests.e2e.test_pipeline" name="test_broke" time="0.1">
    <error message="fixture failed"/></testcase>
  <testcase classname="tests.e2e.test_pipeline" name="test_skipped" time="0"><skipped message="no"/></testcase>
</testsuite></testsuites>
"""


def test_a_junit_report_gives_each_test_passed_or_its_first_failure_line(tmp_path):
    path = tmp_path / "r.xml"
    path.write_text(REPORT)
    results = flake_hunt.junit_results(path)
    assert results == {
        "tests.e2e.test_pipeline::test_ok": None,
        "tests.e2e.test_pipeline::test_bad": "AssertionError: order o-1 still PENDING after 60 s",
        "tests.e2e.test_pipeline::test_broke": "fixture failed",
    }


def test_a_tally_keeps_the_first_failure_and_the_rounds_it_failed_in():
    t = flake_hunt.Tally()
    for round_no, failure in [(1, None), (2, "timeout"), (3, None), (4, "other")]:
        t.add(round_no, failure)
    assert (t.runs, t.failures, t.rounds, t.first) == (4, 2, [2, 4], "round 2: timeout")
