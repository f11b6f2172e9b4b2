SELECT
    vaults.project_id,
    vaults.name AS vault_name,
    vaults.id AS vault_id,
    vaults.object_type,
    vaults.status,
    vaults.size_gb,
    round_half_up(vaults.used_mb / 1024.0, 1) AS used_gb,
    CASE
        WHEN vaults.size_gb > 0 THEN round_half_up(vaults.used_mb / (vaults.size_gb * 1024.0), 4)
    END AS used_rate,
    COALESCE(policies.name, vaults.policy_id) AS policy_name,
    policies.enabled AS policy_enabled,
    array_to_string(policies.patterns, '; ') AS schedule,
    policies.max_interval_hours AS hours_longest_gap,
    CASE
        WHEN policies.id IS NULL THEN NULL
        WHEN policies.retention_duration_days >= 0 THEN
            CAST(policies.retention_duration_days AS VARCHAR) || ' days'
        WHEN policies.max_backups >= 0 THEN
            'the last ' || CAST(policies.max_backups AS VARCHAR) || ' backups'
        ELSE 'for ever'
    END AS retention,
    vaults.resource_count AS resources,
    vaults.locked,
    vaults.snapshot_at
FROM snapshot_vaults AS vaults
LEFT JOIN snapshot_policies AS policies
    ON policies.project_id = vaults.project_id AND policies.id = vaults.policy_id
ORDER BY vaults.project_id, vaults.name, vaults.id
