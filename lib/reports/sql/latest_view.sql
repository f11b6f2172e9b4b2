-- The contract's dedupe rule; every report reads `latest`, never `operation_logs` directly.
SELECT *
FROM (
    SELECT
        operation_logs.*,
        row_number() OVER (
            PARTITION BY id
            ORDER BY updated_at DESC NULLS LAST, ingested_at DESC NULLS LAST
        ) AS snapshot_rank
    FROM operation_logs
) AS ranked
WHERE snapshot_rank = 1
