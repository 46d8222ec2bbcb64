"""JSON-format validity of an answer when its prompt template declares a JSON schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Templates = dict[str, dict[str, Any] | None]


def load_templates(path: Path) -> Templates:
    """prompt_template_id -> JSON schema (None when the template declares no output format)."""
    data = json.loads(Path(path).read_text())
    return {tid: (spec or {}).get("json_schema") for tid, spec in data["templates"].items()}


def format_valid(answer: str | None, schema: dict[str, Any] | None) -> bool | None:
    """None without a schema; else whether the answer parses as JSON and validates against it.
    A markdown code fence around the JSON is tolerated (models often add one)."""
    if schema is None:
        return None
    if answer is None:
        return False
    import jsonschema  # lazy

    text = answer.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        jsonschema.validate(json.loads(text), schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True
