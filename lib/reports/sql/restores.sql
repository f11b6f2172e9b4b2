SELECT
    restores.id,
    restores.created_at,
    restores.status,
    restores.extra_info__resource__id AS resource_id,
    restores.extra_info__resource__name AS resource_name,
    restores.extra_info__restore__backup_id AS backup_id,
    restores.extra_info__restore__backup_name AS backup_name,
    backups_by_id.resource_id AS backup_resource_id,
    restores.extra_info__restore__target_resource_id AS target_resource_id,
    restores.extra_info__restore__target_resource_name AS target_resource_name,
    restores.vault_name,
    restores.ended_at,
    round_half_up(
        epoch(restores.ended_at) - epoch(COALESCE(restores.started_at, restores.created_at)), 3
    ) AS duration_s,
    restores.error_info__code AS error_code,
    restores.error_info__message AS error_message
FROM latest AS restores
LEFT JOIN backups_by_id ON backups_by_id.backup_id = restores.extra_info__restore__backup_id
WHERE restores.operation_type = 'restore'
    AND restores.created_at >= {since}
    AND restores.created_at < {until}
ORDER BY restores.created_at, restores.id
