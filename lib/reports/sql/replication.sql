SELECT
    extra_info__replication__source_region AS source_region,
    extra_info__replication__destination_region AS destination_region,
    status,
    COUNT(*) AS tasks,
    round_half_up(AVG(date_diff('millisecond', started_at, ended_at) / 1000.0), 3) AS avg_duration_s,
    MAX(date_diff('millisecond', started_at, ended_at) / 1000.0) AS max_duration_s
FROM latest
WHERE operation_type IN ('replication', 'copy') AND created_at >= {since} AND created_at < {until}
GROUP BY
    extra_info__replication__source_region, extra_info__replication__destination_region, status
ORDER BY source_region, destination_region, status
