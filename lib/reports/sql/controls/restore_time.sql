WITH last_restore AS (
    SELECT
        resource_id,
        id,
        (epoch(finished_at) - epoch(started_at)) / 60.0 AS minutes,
        row_number() OVER (PARTITION BY resource_id ORDER BY finished_at DESC, id DESC) AS recency
    FROM restored_resources
)
SELECT
    'restore-time' AS control,
    evaluated_resources.resource_id,
    evaluated_resources.resource_name,
    evaluated_resources.resource_type,
    evaluated_resources.vault_name,
    CASE
        WHEN last_restore.id IS NULL THEN 'INSUFFICIENT_DATA'
        WHEN last_restore.minutes <= {max_restore_minutes} THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN last_restore.id IS NULL THEN 'no successful restore in the lake'
        ELSE
            'latest successful restore took '
            || CAST(CAST(round_half_up(last_restore.minutes, 1) AS DECIMAL(18, 1)) AS VARCHAR)
            || ' min, target {max_restore_minutes} min'
    END AS reason,
    last_restore.id AS evidence_ids
FROM evaluated_resources
LEFT JOIN last_restore
    ON last_restore.resource_id = evaluated_resources.resource_id AND last_restore.recency = 1
