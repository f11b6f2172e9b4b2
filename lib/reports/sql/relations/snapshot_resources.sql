-- Every resource the snapshot in force lists: as protectable (ListProtectable) or as a member
-- of a vault (ListVault); its vault (the protectable entry's, else the vault that lists it) and
-- that vault's backup policy.
WITH listed AS (
    SELECT
        project_id,
        resource_id,
        resource_name,
        resource_type,
        status,
        CASE WHEN can_protect THEN 1 WHEN NOT can_protect THEN 0 END AS can_protect_flag,
        code,
        reason,
        vault_id,
        0 AS source
    FROM snapshot_protectables
    UNION ALL
    SELECT
        project_id,
        resource_id,
        resource_name,
        resource_type,
        NULL,
        NULL,
        NULL,
        NULL,
        vault_id,
        1
    FROM snapshot_vault_resources
),
per_resource AS (
    SELECT
        project_id,
        resource_id,
        COALESCE(
            MAX(CASE WHEN source = 0 THEN resource_name END), MAX(resource_name)
        ) AS resource_name,
        COALESCE(
            MAX(CASE WHEN source = 0 THEN resource_type END), MAX(resource_type)
        ) AS resource_type,
        MAX(status) AS status,
        MIN(can_protect_flag) AS can_protect_flag,
        MAX(CASE WHEN code <> '' THEN code END) AS code,
        MAX(CASE WHEN reason <> '' THEN reason END) AS reason,
        COALESCE(
            MAX(CASE WHEN source = 0 THEN vault_id END),
            MIN(CASE WHEN source = 1 THEN vault_id END)
        ) AS vault_id
    FROM listed
    WHERE resource_id IS NOT NULL
    GROUP BY project_id, resource_id
)
SELECT
    per_resource.project_id,
    snapshots_in_force.snapshot_id,
    snapshots_in_force.snapshot_at,
    per_resource.resource_id,
    per_resource.resource_name,
    per_resource.resource_type,
    per_resource.status,
    CASE per_resource.can_protect_flag WHEN 1 THEN TRUE WHEN 0 THEN FALSE END AS can_protect,
    per_resource.code,
    per_resource.reason,
    per_resource.vault_id,
    snapshot_vaults.id IS NOT NULL AS vault_listed,
    COALESCE(snapshot_vaults.name, per_resource.vault_id) AS vault_name,
    snapshot_vaults.size_gb AS vault_size_gb,
    snapshot_vaults.used_mb AS vault_used_mb,
    snapshot_vaults.policy_id,
    COALESCE(snapshot_policies.name, snapshot_vaults.policy_id) AS policy_name,
    snapshot_policies.enabled AS policy_enabled,
    snapshot_policies.max_interval_hours,
    snapshot_policies.retention_duration_days,
    snapshot_policies.max_backups
FROM per_resource
JOIN snapshots_in_force ON snapshots_in_force.project_id = per_resource.project_id
LEFT JOIN snapshot_vaults
    ON snapshot_vaults.project_id = per_resource.project_id
    AND snapshot_vaults.id = per_resource.vault_id
LEFT JOIN snapshot_policies
    ON snapshot_policies.project_id = snapshot_vaults.project_id
    AND snapshot_policies.id = snapshot_vaults.policy_id
