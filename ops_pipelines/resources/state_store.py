"""Where stateful assets keep the state they carry from one partition to the next."""

import datetime as dt
from pathlib import Path

import dagster as dg
from pydantic import Field


class StateStore(dg.ConfigurableResource):
    """A folder of per-partition state files, `<root>/<asset>/<partition>.zip`."""

    root: str = Field(description="Folder for detector state files.")

    def path(self, asset: str, partition: str) -> Path:
        return Path(self.root, asset, f"{partition}.zip")

    def latest_before(self, asset: str, partition: str) -> Path | None:
        """The newest state file of a partition strictly before `partition`, if any."""
        folder = Path(self.root, asset)
        earlier = sorted(p for p in folder.glob("*.zip") if p.stem < partition) if folder.is_dir() else []
        return earlier[-1] if earlier else None

    def previous(self, context: dg.AssetExecutionContext, asset: str) -> Path | None:
        """The state to continue from for this run's partition; warns when it is not the day before."""
        previous = self.latest_before(asset, context.partition_key)
        expected = context.partition_time_window.start - dt.timedelta(days=1)
        if previous is not None and previous.stem != expected.strftime("%Y-%m-%d"):
            context.log.warning(f"no {asset} state for the day before {context.partition_key}; continuing from {previous.stem}")
        return previous
