"""The Markdown table helper: a cell's content can never break its table or render as HTML."""

from ops_pipelines.lib.markdown import cell, table


def test_pipes_newlines_and_tags_in_data_stay_inside_their_cell():
    out = table(["name", "why"], [["a|b", "line one\nline two <script>"]])
    header, rule, row = out.split("\n")
    assert header == "| name | why |" and rule == "|---|---|"
    assert row == "| a\\|b | line one line two \\<script> |"
    assert row.replace("\\|", "").count("|") == 3  # still two cells


def test_code_columns_keep_backslashes_and_lose_backticks():
    out = table(["template"], [["GET /a\\b `x` | <NUM>"]], code=["template"])
    assert out.split("\n")[2] == "| `GET /a\\b 'x' \\| <NUM>` |"


def test_alignment_bold_and_the_empty_text():
    out = table(["file", "rows"], [["f.csv", 3]], right=["rows"], bold=["file"])
    assert out.split("\n")[1:] == ["|---|---:|", "| **f.csv** | 3 |"]
    assert table(["file"], [], empty="no files") == "no files"
    assert table(["file"], []).count("\n") == 1  # headers only when no empty text is given
    assert cell(None) == "" and cell("a\\b") == "a\\\\b"
