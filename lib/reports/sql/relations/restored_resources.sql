WITH restores AS (
    SELECT
        id,
        extra_info__resource__id AS resource_id,
        extra_info__restore__backup_id AS backup_id,
        COALESCE(started_at, created_at) AS started_at,
        COALESCE(ended_at, updated_at) AS finished_at
    FROM latest
    WHERE operation_type = 'restore'
        AND status = 'success'
        AND COALESCE(ended_at, updated_at) <= {at}
)
SELECT resource_id, id, started_at, finished_at
FROM restores
WHERE resource_id IS NOT NULL
UNION
SELECT backups_by_id.resource_id, restores.id, restores.started_at, restores.finished_at
FROM restores
JOIN backups_by_id ON backups_by_id.backup_id = restores.backup_id
WHERE backups_by_id.resource_id IS NOT NULL
