SELECT
    CAST(created_at AS DATE) AS day,
    operation_type,
    COUNT(*) AS total,
    SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS success,
    SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
    SUM(CASE WHEN status = 'timeout' THEN 1 ELSE 0 END) AS timeout,
    SUM(CASE WHEN status IN ('running', 'waiting') THEN 1 ELSE 0 END) AS in_progress,
    SUM(CASE WHEN status NOT IN ('success', 'failed', 'timeout', 'running', 'waiting')
        OR status IS NULL THEN 1 ELSE 0 END) AS other,
    round_half_up(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) * 1.0 / COUNT(*), 4) AS success_rate
FROM latest
WHERE created_at >= {since} AND created_at < {until}
GROUP BY CAST(created_at AS DATE), operation_type
ORDER BY day, operation_type
