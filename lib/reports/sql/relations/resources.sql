WITH tasks AS (
    SELECT
        extra_info__resource__id AS resource_id,
        extra_info__resource__name AS resource_name,
        extra_info__resource__type AS resource_type,
        vault_name,
        project_id,
        operation_type,
        created_at,
        row_number() OVER (
            PARTITION BY extra_info__resource__id ORDER BY created_at DESC, id DESC
        ) AS recency
    FROM latest
    WHERE extra_info__resource__id IS NOT NULL
        AND created_at < {at}
        AND (operation_type = 'backup' OR (operation_type = 'delete' AND created_at >= {since}))
)
SELECT
    resource_id,
    MAX(CASE WHEN recency = 1 THEN resource_name END) AS resource_name,
    MAX(CASE WHEN recency = 1 THEN resource_type END) AS resource_type,
    MAX(CASE WHEN recency = 1 THEN vault_name END) AS vault_name,
    MIN(CASE WHEN operation_type = 'backup' THEN created_at END) AS first_backup_at,
    MAX(CASE WHEN recency = 1 THEN project_id END) AS project_id
FROM tasks
GROUP BY resource_id
