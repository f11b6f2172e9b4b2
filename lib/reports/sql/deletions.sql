SELECT
    deletes.id,
    deletes.operation_type,
    deletes.status,
    deletes.created_at,
    deletes.ended_at,
    COALESCE(backups_by_id.resource_id, deletes.extra_info__resource__id) AS resource_id,
    deletes.extra_info__resource__name AS resource_name,
    deletes.vault_name,
    deletes.extra_info__delete__backup_id AS backup_id,
    deletes.extra_info__delete__backup_name AS backup_name,
    backups_by_id.backup_task_id,
    backups_by_id.finished_at AS backup_finished_at,
    round_half_up(
        epoch(COALESCE(deletes.ended_at, deletes.updated_at)) - epoch(backups_by_id.finished_at), 3
    ) AS backup_age_s,
    deletes.extra_info__vault_delete__total_count AS vault_backups,
    deletes.extra_info__vault_delete__fail_count AS vault_backups_failed,
    deletes.error_info__code AS error_code
FROM latest AS deletes
LEFT JOIN backups_by_id ON backups_by_id.backup_id = deletes.extra_info__delete__backup_id
WHERE deletes.operation_type IN ('delete', 'vault_delete')
    AND deletes.created_at >= {since}
    AND deletes.created_at < {until}
ORDER BY deletes.created_at, deletes.id
