WITH last_restore AS (
    SELECT
        resource_id,
        id,
        (epoch({at}) - epoch(finished_at)) / 86400.0 AS age_days,
        row_number() OVER (PARTITION BY resource_id ORDER BY finished_at DESC, id DESC) AS recency
    FROM restored_resources
),
lake AS (
    SELECT (epoch({at}) - epoch(MIN(created_at))) / 86400.0 AS history_days
    FROM latest
    WHERE created_at < {at}
),
judged AS (
    SELECT
        evaluated_resources.*,
        last_restore.id AS restore_id,
        last_restore.age_days,
        lake.history_days
    FROM evaluated_resources
    CROSS JOIN lake
    LEFT JOIN last_restore
        ON last_restore.resource_id = evaluated_resources.resource_id AND last_restore.recency = 1
)
SELECT
    'restore-tested' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN restore_id IS NOT NULL AND age_days <= {restore_test_days} THEN 'COMPLIANT'
        WHEN restore_id IS NULL AND history_days < {restore_test_days} THEN 'INSUFFICIENT_DATA'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN restore_id IS NOT NULL THEN
            'last successful restore finished '
            || age_text(age_days * 24)
            || ' before the evaluation time, required within {restore_test_days} d'
        WHEN history_days < {restore_test_days} THEN
            'no successful restore, but the lake reaches back only '
            || age_text(history_days * 24)
            || ' of the {restore_test_days} d'
        ELSE 'no successful restore in the lake, required within {restore_test_days} d'
    END AS reason,
    restore_id AS evidence_ids
FROM judged
