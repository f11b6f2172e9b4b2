"""oplog-lake: Huawei Cloud CBR operation logs -> a Parquet lake for audits."""

__version__ = "0.1.0"
