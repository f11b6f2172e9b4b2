"""Reading the lake back: pyarrow datasets over the Hive-style `dt=` partitions."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from lib.core.schema import (
    DATA_TABLE,
    ERRORS_SCHEMA,
    ERRORS_TABLE,
    OPERATION_LOGS_SCHEMA,
    PARTITION_KEY,
)
from lib.core.settings import LakeLocation

SCHEMAS = {DATA_TABLE: OPERATION_LOGS_SCHEMA, ERRORS_TABLE: ERRORS_SCHEMA}
PARTITIONING = ds.partitioning(pa.schema([(PARTITION_KEY, pa.string())]), flavor="hive")


class LakeNotFound(FileNotFoundError):
    """The lake (or the table asked for) has no files yet."""


def open_table(lake: LakeLocation | str, table: str) -> ds.Dataset:
    """One lake table as a dataset, with `dt` as a string partition column. A plain string is
    a local folder, or an S3 lake reached through AWS's own endpoints."""
    location = lake if isinstance(lake, LakeLocation) else LakeLocation(str(lake))
    if location.is_s3:
        from lib.lake.s3 import arrow_filesystem  # boto3/pyarrow S3 only for an S3 lake

        filesystem, root = arrow_filesystem(location)
        path = f"{root}/{table}"
    else:
        filesystem, path = None, str(Path(location.uri) / table)
        if not Path(path).is_dir():
            raise LakeNotFound(f"no {table} table under {location.uri}")
    schema = SCHEMAS[table].append(pa.field(PARTITION_KEY, pa.string()))
    return ds.dataset(
        path, schema=schema, format="parquet", partitioning=PARTITIONING, filesystem=filesystem
    )
