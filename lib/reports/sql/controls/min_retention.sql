WITH deletions AS (
    SELECT
        deletes.id,
        COALESCE(backups_by_id.resource_id, deletes.extra_info__resource__id) AS resource_id,
        backups_by_id.backup_task_id,
        (epoch(COALESCE(deletes.ended_at, deletes.updated_at)) - epoch(backups_by_id.finished_at))
            / 86400.0 AS age_days
    FROM latest AS deletes
    LEFT JOIN backups_by_id ON backups_by_id.backup_id = deletes.extra_info__delete__backup_id
    WHERE deletes.operation_type = 'delete'
        AND deletes.status = 'success'
        AND deletes.created_at >= {since}
        AND deletes.created_at < {at}
),
per_resource AS (
    SELECT
        resource_id,
        COUNT(*) AS deletions,
        SUM(CASE WHEN age_days < {min_retention_days} THEN 1 ELSE 0 END) AS too_young,
        SUM(CASE WHEN age_days IS NULL THEN 1 ELSE 0 END) AS unknown,
        MIN(age_days) AS youngest_days,
        string_agg(
            CASE WHEN age_days < {min_retention_days} THEN id || ',' || backup_task_id END, ','
            ORDER BY id
        ) AS young_ids,
        string_agg(CASE WHEN age_days IS NULL THEN id END, ',' ORDER BY id) AS unknown_ids,
        string_agg(id, ',' ORDER BY id) AS all_ids
    FROM deletions
    GROUP BY resource_id
)
SELECT
    'min-retention' AS control,
    evaluated_resources.resource_id,
    evaluated_resources.resource_name,
    evaluated_resources.resource_type,
    evaluated_resources.vault_name,
    CASE
        WHEN per_resource.too_young > 0 THEN 'NON_COMPLIANT'
        WHEN per_resource.unknown > 0 THEN 'INSUFFICIENT_DATA'
        ELSE 'COMPLIANT'
    END AS status,
    CASE
        WHEN per_resource.too_young > 0 THEN
            'a backup was deleted '
            || age_text(per_resource.youngest_days * 24)
            || ' after it was made, minimum {min_retention_days} d'
        WHEN per_resource.unknown > 0 THEN
            CAST(per_resource.unknown AS VARCHAR)
            || ' deleted backup(s) whose creation is not in the lake'
        WHEN per_resource.deletions > 0 THEN
            CAST(per_resource.deletions AS VARCHAR) || ' backup(s) deleted, the youngest '
            || age_text(per_resource.youngest_days * 24)
            || ' old, minimum {min_retention_days} d'
        ELSE 'no backup of the resource was deleted in the period'
    END AS reason,
    CASE
        WHEN per_resource.too_young > 0 THEN per_resource.young_ids
        WHEN per_resource.unknown > 0 THEN per_resource.unknown_ids
        ELSE per_resource.all_ids
    END AS evidence_ids
FROM evaluated_resources
LEFT JOIN per_resource ON per_resource.resource_id = evaluated_resources.resource_id
