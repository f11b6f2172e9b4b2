SELECT
    extra_info__backup__backup_id AS backup_id,
    MIN(id) AS backup_task_id,
    MIN(extra_info__resource__id) AS resource_id,
    MIN(COALESCE(ended_at, updated_at)) AS finished_at
FROM latest
WHERE operation_type = 'backup'
    AND status = 'success'
    AND extra_info__backup__backup_id IS NOT NULL
GROUP BY extra_info__backup__backup_id
