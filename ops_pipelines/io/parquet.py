"""Parquet per asset and partition, written atomically so re-runs are byte-identical."""


from pathlib import Path

import dagster as dg

from ops_pipelines.lib.files import atomic_write


def write_parquet_atomic(frame, path: Path) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    atomic_write(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def partition_path(base_dir: str | Path, asset: str, partition: str | None) -> Path:
    """Where the IO manager keeps one partition of an asset (single-part asset keys)."""
    return Path(base_dir, asset, f"{partition or 'all'}.parquet")


def read_partitions(base_dir: str | Path, asset: str, partitions: list[str]):
    """The stored partitions of an asset that exist, concatenated (empty frame when none)."""
    import pandas as pd

    frames = [pd.read_parquet(p) for p in (partition_path(base_dir, asset, k) for k in partitions) if p.exists()]
    full = [f for f in frames if len(f)]  # empty partitions add no rows, only dtype warnings
    return pd.concat(full, ignore_index=True) if full else frames[0] if frames else pd.DataFrame()


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

    def _path(self, key: dg.AssetKey, partition: str | None) -> Path:
        return Path(self.base_dir, *key.path, f"{partition or 'all'}.parquet")

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = self._path(context.asset_key, partition)
        write_parquet_atomic(obj, path)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext):
        import pandas as pd

        key = context.asset_key
        if context.has_asset_partitions:
            return read_partitions(Path(self.base_dir, *key.path[:-1]), key.path[-1], list(context.asset_partition_keys))
        return pd.read_parquet(self._path(key, None))
