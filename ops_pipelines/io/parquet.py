"""Parquet per asset and partition, written atomically so re-runs are byte-identical.

This module is the only code that knows the file layout (`<base_dir>/<asset key path>/<partition>.parquet`,
multi-partition keys as `date|model`). Steps get their data as inputs through `ParquetIOManager`; the few
reads a partition mapping cannot express (a training window set by a run tag, every decision up to a day)
go through the `StoredPartitions` resource, which uses the same layout.
"""

import contextlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from ops_pipelines.lib.files import atomic_write


def write_parquet_atomic(frame, path: Path) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    atomic_write(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def partition_path(base_dir: str | Path, asset: str, partition: str | None) -> Path:
    """Where the IO manager keeps one partition of an asset (single-part asset keys)."""
    return ParquetLayout(base_dir).path([asset], partition)


def read_partitions(base_dir: str | Path, asset: str, partitions: list[str]):
    """The stored partitions of an asset that exist, concatenated (empty frame when none)."""
    return ParquetLayout(base_dir).read([asset], partitions)


@dataclass(frozen=True)
class ParquetLayout:
    """Paths and reads of stored partitions under one base folder."""

    base_dir: str | Path

    def path(self, key_path: list[str], partition: str | None) -> Path:
        return Path(self.base_dir, *key_path, f"{partition or 'all'}.parquet")

    def stored(self, key_path: list[str], partitions: list[str]) -> list[str]:
        """The partitions among `partitions` that have a file."""
        return [p for p in partitions if self.path(key_path, p).exists()]

    def read(self, key_path: list[str], partitions: list[str], columns: list[str] | None = None,
             shard: tuple[int, int] | None = None):
        """The stored partitions that exist, concatenated (empty frame when none); only `columns` (those a
        partition has) when given; only the rows of services in `shard` (this shard, of how many) when given."""
        import pandas as pd
        import pyarrow.parquet as pq

        def one(path: Path):
            if columns is None and shard is None:
                return pd.read_parquet(path)
            names = pq.read_schema(path).names
            wanted = names if columns is None else [c for c in columns if c in names]
            if shard is None:
                return pd.read_parquet(path, columns=wanted)
            return pd.read_parquet(path, columns=wanted, filters=_in_shard(path, *shard))

        frames = [one(self.path(key_path, p)) for p in self.stored(key_path, partitions)]
        full = [f for f in frames if len(f)]  # empty partitions add no rows, only dtype warnings
        return pd.concat(full, ignore_index=True) if full else frames[0] if frames else pd.DataFrame()

    def partitions(self, key_path: list[str]) -> list[str]:
        """Every stored partition of an asset, sorted."""
        folder = Path(self.base_dir, *key_path)
        return sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []

    def read_until(self, key_path: list[str], until: str):
        """Every stored partition of a (date, ...) multi-partitioned asset whose date is <= `until`."""
        import pandas as pd

        folder = Path(self.base_dir, *key_path)
        parts = sorted(p for p in folder.glob("*|*.parquet") if p.stem.split("|", 1)[0] <= until) if folder.is_dir() else []
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()


def _in_shard(path: Path, shard: int, shards: int):
    """A row filter for the services of one shard, from the file's distinct service names (the column's
    dictionaries when it is stored encoded). Arrow applies it row group by row group as it reads, so the frame a
    shard gets is its own rows; while reading it also holds the few row groups being decoded."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from ops_pipelines.lib.aiops.shards import services_in_shard

    column = pq.read_table(path, columns=["service"])["service"]
    names = set()
    for chunk in column.chunks:
        names.update((chunk.dictionary if pa.types.is_dictionary(chunk.type) else pc.unique(chunk)).to_pylist())
    mine = ds.field("service").isin(pa.array(services_in_shard(list(names), shard, shards), pa.string()))
    return mine | ds.field("service").is_null() if shard == 0 else mine


# How long the step outputs of a run that ended without its joining step are kept: Dagster's retry of a crashed run
# re-executes from the failure and reads them (minutes later); after this a re-execution says to materialize again.
STEP_OUTPUTS_KEPT_S = 24 * 3600


@dataclass(frozen=True)
class StepOutputs:
    """Outputs passed between the ops of a graph-backed asset (not assets themselves), under
    `<base_dir>/.steps/<run id>/<step key>/<output>[.<mapping key>]`: a DataFrame as Parquet, a dict of numpy
    arrays as an uncompressed .npz (no pickle either way). Shared storage lets any worker read them."""

    base_dir: str | Path

    def run_dir(self, run_id: str) -> Path:
        return Path(self.base_dir, ".steps", run_id)

    def _path(self, identifier) -> Path:
        run_id, step_key, *name = identifier
        return self.run_dir(run_id) / step_key / ".".join(name)

    def write(self, identifier, obj) -> None:
        import numpy as np
        import pandas as pd

        path = self._path(identifier)
        if isinstance(obj, pd.DataFrame):
            write_parquet_atomic(obj, path.with_name(path.name + ".parquet"))
        elif isinstance(obj, dict) and all(isinstance(v, np.ndarray) for v in obj.values()):
            # uncompressed: written and read once, on the hot path
            atomic_write(path.with_name(path.name + ".npz"), lambda fh: np.savez(fh, allow_pickle=False, **obj))
        else:
            raise TypeError(f"{path.name}: a step output must be a DataFrame or a dict of numpy arrays, "
                            f"not {type(obj).__name__}")

    def read(self, identifier):
        import numpy as np
        import pandas as pd

        path = self._path(identifier)
        parquet, npz = path.with_name(path.name + ".parquet"), path.with_name(path.name + ".npz")
        if parquet.exists():
            return pd.read_parquet(parquet)
        if npz.exists():
            with np.load(npz, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        raise FileNotFoundError(f"step output {path} is gone (cleared after its run's asset was written): "
                                "materialize the asset's partition again")

    def clear(self, run_id: str, step_prefix: str) -> None:
        """Drop a run's outputs of the steps whose key starts with `step_prefix` (once their asset is written)."""
        import shutil

        folder = self.run_dir(run_id)
        for step in folder.glob(f"{step_prefix}*") if folder.is_dir() else []:
            shutil.rmtree(step, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
            folder.parent.rmdir()

    def written(self, context: dg.OpExecutionContext, step_prefix: str) -> None:
        """A joining step has its asset's result in memory: drop its run's outputs of the steps starting with
        `step_prefix`, and the old leftovers of earlier runs (`sweep`)."""
        import time

        self.clear(context.run_id, step_prefix)
        gone = self.sweep(context.instance, time.time())
        if gone:
            context.log.info(f"removed the step outputs that {len(gone)} earlier run(s) left: {', '.join(gone)}")

    def sweep(self, instance: dg.DagsterInstance, now: float) -> list[str]:
        """Delete what runs that ended over STEP_OUTPUTS_KEPT_S before `now` left behind (a run that failed before
        its joining step keeps its shards' outputs); a run still queued or going keeps its folder, and a folder of
        a run the instance does not know goes by its age. Returns the run ids whose folders went."""
        import shutil

        root = Path(self.base_dir, ".steps")
        gone = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
            record = instance.get_run_record_by_id(folder.name)
            if record is not None and not record.dagster_run.is_finished:
                continue
            ended = folder.stat().st_mtime if record is None else record.end_time or record.update_timestamp.timestamp()
            if now - ended > STEP_OUTPUTS_KEPT_S:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(folder.name)
        return gone


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as `<base_dir>/<asset key path>/<partition>.parquet` (no pickle)."""

    base_dir: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Storage that cannot take a file (read-only, no permission) fails the run once, up front, naming the
        # folder, instead of once per step that writes.
        import tempfile

        base = Path(self.base_dir)
        try:
            base.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=base, prefix=".write-probe.", suffix=".tmp"):
                pass
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write to the asset storage {base}: {exc.strerror or exc}") from None

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        if not context.has_asset_key:  # an op's output inside a graph-backed asset (a shard's part of the work)
            StepOutputs(self.base_dir).write(context.get_identifier(), obj)
            return
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = ParquetLayout(self.base_dir).path(context.asset_key.path, partition)
        write_parquet_atomic(obj, path)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext):
        import pandas as pd

        if not context.has_asset_key:
            return StepOutputs(self.base_dir).read(context.upstream_output.get_identifier())
        layout, key = ParquetLayout(self.base_dir), context.asset_key.path
        if context.has_asset_partitions:
            # A mapping can yield no partition (yesterday of the first day): an empty frame, as for a missing file.
            # An input may name the columns it reads (AssetIn metadata "columns"): a day of 2,000 services' log
            # lines is gigabytes of message text that correlation never looks at.
            # A shard's step (AssetIn/In metadata "shard": [shard, shards]) reads only its services' rows.
            metadata = context.definition_metadata or {}
            columns, shard = metadata.get("columns"), metadata.get("shard")
            return layout.read(key, list(context.asset_partition_keys), list(columns) if columns else None,
                               tuple(shard) if shard else None)
        return pd.read_parquet(layout.path(key, None))


class StoredPartitions(dg.ConfigurableResource):
    """Reads stored asset partitions that a step's inputs cannot express: a training window that a run
    tag sets, or every retraining decision up to a day. Same folder and layout as `ParquetIOManager`."""

    base_dir: str = Field(description="The Parquet IO manager's base folder.")

    def read(self, asset: str, days: list[str]):
        """Stored daily partitions of an asset, concatenated (missing days skipped)."""
        return ParquetLayout(self.base_dir).read([asset], days)

    def available(self, asset: str, days: list[str]) -> list[str]:
        """The days among `days` with a stored partition of the asset."""
        return ParquetLayout(self.base_dir).stored([asset], days)

    def read_until(self, asset: str, until: str):
        """Every stored (day, model) partition of a retraining asset with day <= `until`."""
        return ParquetLayout(self.base_dir).read_until([asset], until)
