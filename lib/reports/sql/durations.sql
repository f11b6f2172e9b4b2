WITH finished AS (
    SELECT id, operation_type, date_diff('millisecond', started_at, ended_at) / 1000.0 AS duration_s
    FROM latest
    WHERE started_at IS NOT NULL AND ended_at IS NOT NULL
        AND created_at >= {since} AND created_at < {until}
)
SELECT
    operation_type,
    COUNT(*) AS tasks,
    round_half_up(quantile_cont(duration_s, 0.5), 3) AS p50_s,
    round_half_up(quantile_cont(duration_s, 0.95), 3) AS p95_s,
    MAX(duration_s) AS max_s,
    arg_max(id, duration_s) AS slowest_id
FROM finished
GROUP BY operation_type
ORDER BY max_s DESC, operation_type
