WITH candidates AS (
    SELECT
        extra_info__resource__id AS resource_id,
        id,
        extra_info__backup__backup_id AS backup_id,
        (epoch({at}) - epoch(COALESCE(ended_at, updated_at))) / 3600.0 AS age_hours,
        row_number() OVER (
            PARTITION BY extra_info__resource__id
            ORDER BY COALESCE(ended_at, updated_at) DESC, id DESC
        ) AS recency
    FROM latest
    WHERE operation_type = 'backup'
        AND status = 'success'
        AND created_at < {at}
        AND epoch({at}) - epoch(COALESCE(ended_at, updated_at)) > {copy_within_hours} * 3600
),
copies AS (
    SELECT
        extra_info__replication__source_backup_id AS backup_id,
        string_agg(id, ',' ORDER BY id) AS replication_ids
    FROM latest
    WHERE operation_type IN ('replication', 'copy')
        AND status = 'success'
        AND COALESCE(ended_at, updated_at) <= {at}
        AND extra_info__replication__source_backup_id IS NOT NULL
    GROUP BY extra_info__replication__source_backup_id
),
judged AS (
    SELECT
        evaluated_resources.*,
        candidates.id AS backup_task_id,
        candidates.backup_id,
        candidates.age_hours,
        copies.replication_ids
    FROM evaluated_resources
    LEFT JOIN candidates
        ON candidates.resource_id = evaluated_resources.resource_id AND candidates.recency = 1
    LEFT JOIN copies ON copies.backup_id = candidates.backup_id
)
SELECT
    'cross-region-copy' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN backup_task_id IS NULL OR backup_id IS NULL THEN 'INSUFFICIENT_DATA'
        WHEN replication_ids IS NOT NULL THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN backup_task_id IS NULL THEN
            'no successful backup older than {copy_within_hours} h to check'
        WHEN backup_id IS NULL THEN
            'the latest successful backup older than {copy_within_hours} h names no backup ID'
        ELSE
            'latest successful backup older than {copy_within_hours} h ('
            || age_text(age_hours)
            || ' before the evaluation time) '
            || CASE
                WHEN replication_ids IS NOT NULL THEN 'was replicated'
                ELSE 'has no successful replication'
            END
    END AS reason,
    CASE
        WHEN replication_ids IS NOT NULL THEN backup_task_id || ',' || replication_ids
        ELSE backup_task_id
    END AS evidence_ids
FROM judged
