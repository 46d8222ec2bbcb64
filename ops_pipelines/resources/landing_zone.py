"""The landing zone users drop exports into, and the rules for reading it."""


from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines.lib.ingest.formats import DEFAULT_LOG_PATTERN


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

    @property
    def path(self) -> Path:
        return Path(self.root)

    def format_options(self):
        from ops_pipelines.lib.ingest.kinds import FormatOptions

        return FormatOptions(log_pattern=self.log_pattern, naive_timezone=self.naive_timezone)
