"""The landing zone users drop exports into, and the rules for reading it."""


from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines.lib.ingest.formats import DEFAULT_LOG_PATTERN, DEFAULT_MAX_ABS_VALUE, DEFAULT_MAX_LINE_BYTES


class LandingZone(dg.ConfigurableResource):
    """A folder `<root>/<kind>/<YYYY-MM-DD>/` per input kind and day, plus ingestion policy."""

    root: str = Field(description="Landing-zone folder.")
    log_pattern: str = Field(default=DEFAULT_LOG_PATTERN, description="Regex with named groups for plain-text logs.")
    naive_timezone: str | None = Field(
        default=None, description="Time zone for timestamps without offset; unset = quarantine them."
    )
    max_quarantine_share: float = Field(
        default=0.02, description="The ingestion check fails when a partition quarantines more than this share of rows."
    )
    max_line_bytes: int = Field(
        default=DEFAULT_MAX_LINE_BYTES, gt=0, description="Longer lines are quarantined as line_too_long (bytes, newline excluded)."
    )
    max_abs_value: float = Field(
        default=DEFAULT_MAX_ABS_VALUE, gt=0, description="Numbers of a larger magnitude are quarantined as out_of_range."
    )

    @property
    def path(self) -> Path:
        return Path(self.root)

    def format_options(self):
        from ops_pipelines.lib.ingest.kinds import FormatOptions

        return FormatOptions(
            log_pattern=self.log_pattern,
            naive_timezone=self.naive_timezone,
            max_line_bytes=self.max_line_bytes,
            max_abs_value=self.max_abs_value,
        )
