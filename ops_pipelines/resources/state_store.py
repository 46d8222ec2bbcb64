"""Where stateful assets keep the state they carry from one partition to the next."""

import datetime as dt
from pathlib import Path

import dagster as dg
from pydantic import Field

# Checked on every asset that carries state from day to day; non-blocking: a stale later day is news, not a
# reason to stop today's run.
STATE_CHECK = "state_is_current"


def state_check_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(STATE_CHECK, asset=asset, blocking=False,
                             description="This day continued from current state, and no later day continues from a "
                                         "state this run replaced (re-run those days to bring them up to date).")


class StateStore(dg.ConfigurableResource):
    """A folder of per-partition state files, `<root>/<asset>/<partition>.zip`, with a record of what each
    day's state was computed from (`<root>/_lineage/`)."""

    root: str = Field(description="Folder for detector state files.")

    def path(self, asset: str, partition: str, suffix: str = ".zip") -> Path:
        return Path(self.root, asset, f"{partition}{suffix}")

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

    def record(self, asset: str, day: str, carried: dict[str, Path | None], since: str | None = None) -> None:
        """After writing `asset`'s state of `day`: record the state files it continued from (folder -> path or
        None for a cold start). `since`: see `state_lineage.carried` (default: latest-before semantics)."""
        from ops_pipelines.lib.state_lineage import carried as carry
        from ops_pipelines.lib.state_lineage import write_lineage

        write_lineage(Path(self.root), asset, day, [carry(folder, path, since) for folder, path in carried.items()])

    def state_check(self, context: dg.AssetExecutionContext, asset: str) -> dg.AssetCheckResult:
        """`state_is_current` for this run's day: fails (warning) when the day continued from a stale state or
        when later days continue from a state this run replaced; names them and the command that redoes them."""
        from ops_pipelines.lib.state_lineage import day_reason, stale_days

        day = context.partition_key
        own = day_reason(Path(self.root), asset, day)
        later = stale_days(Path(self.root), [asset], after=day).get(asset, {})
        metadata: dict = {"stale_later_days": len(later), "continued_from_stale": own or "no"}
        if later:
            first, last = min(later), max(later)
            metadata["later_days"] = dg.MetadataValue.md("\n".join(f"- {d}: {why}" for d, why in sorted(later.items())))
            metadata["rerun"] = f"ops-pipelines run --start {first} --end {last}"
            context.log.warning(f"{asset}: {len(later)} later day(s) ({first} to {last}) continued from state this run "
                                f"replaced and are stale; re-run them: ops-pipelines run --start {first} --end {last}")
        if own:
            context.log.warning(f"{asset} {day} is stale: {own}")
        return dg.AssetCheckResult(check_name=STATE_CHECK, asset_key=asset, passed=not (own or later),
                                   severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
