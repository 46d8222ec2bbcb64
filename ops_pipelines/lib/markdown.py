"""The one Markdown table builder: every table in asset metadata and reports escapes its cells the same way."""

from collections.abc import Iterable, Sequence

# `<` is escaped so text such as a log mask `<NUM>` or a name from the data is shown, never rendered as an
# HTML tag by the UI (`>` alone opens no tag: "40% > 30%" stays readable in the .md files).
_PLAIN = str.maketrans({"\\": "\\\\", "|": "\\|", "<": "\\<", "\n": " ", "\r": " "})
# Inside a code span backslashes are literal; a GFM table still needs its pipes escaped.
_CODE = str.maketrans({"`": "'", "|": "\\|", "\n": " ", "\r": " "})


def cell(value: object, *, code: bool = False, bold: bool = False) -> str:
    """One cell's text: pipes and newlines can never break the row; `None` is empty."""
    text = "" if value is None else str(value)
    if code:
        return f"`{text.translate(_CODE)}`" if text else ""
    text = text.translate(_PLAIN)
    return f"**{text}**" if bold and text else text


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, code: Iterable[str] = (),
          bold: Iterable[str] = (), right: Iterable[str] = (), empty: str | None = None) -> str:
    """A GFM table. `code`, `bold` and `right` name columns shown as code spans, in bold, right-aligned.
    With `empty` set, a table without rows is that text instead."""
    code, bold, right = set(code), set(bold), set(right)
    rows = list(rows)
    if not rows and empty is not None:
        return empty
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---:" if h in right else "---" for h in headers) + "|"]
    for row in rows:
        cells = [cell(v, code=h in code, bold=h in bold) for h, v in zip(headers, row, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
