"""Metadata floats keep meaningful digits; entries that would show empty are left out."""

import math

import dagster as dg

from ops_pipelines.lib.tidy_metadata import meaningful, tidy


def test_floats_keep_four_significant_digits_and_stay_floats():
    assert meaningful(0.5730194500000001) == 0.573
    assert meaningful(12345.678) == 12350.0
    assert meaningful(0.000123456) == 0.0001235
    assert isinstance(meaningful(3.0), float)


def test_empty_entries_go_and_other_values_pass_unchanged():
    table = dg.MetadataValue.md("| a |\n|---|\n| 1 |")
    out = tidy({"share": 0.12345678, "key": "", "blank": "  ", "none": None, "nan": math.nan, "inf": math.inf,
                "rows": 10, "flag": False, "table": table, "note": "drift on 2 columns"})
    assert out == {"share": 0.1235, "inf": math.inf, "rows": 10, "flag": False, "table": table, "note": "drift on 2 columns"}
