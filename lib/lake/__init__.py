"""The lake: Parquet files in dt= partitions, the stores that hold them, reading and compaction."""
