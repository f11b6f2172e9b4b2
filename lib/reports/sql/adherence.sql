SELECT
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    day,
    backups,
    successes,
    failures,
    success_ids,
    failure_ids
FROM adherence_days
ORDER BY resource_id, day
