-- What the snapshot in force of each evaluated resource's project says of it. `unknown` says
-- why the snapshot cannot judge the resource at all; `policy_gap` why it has no backup policy
-- to judge (both null when it can).
SELECT
    evaluated_resources.resource_id,
    evaluated_resources.resource_name,
    evaluated_resources.resource_type,
    evaluated_resources.vault_name,
    evaluated_resources.project_id,
    snapshots_in_force.snapshot_id,
    snapshots_in_force.snapshot_at,
    snapshot_resources.resource_id IS NOT NULL AS listed,
    CASE
        WHEN snapshots_in_force.snapshot_id IS NULL THEN
            'no inventory snapshot of project ' || COALESCE(evaluated_resources.project_id, '?')
            || ' taken by the evaluation time'
        WHEN snapshot_resources.resource_id IS NULL THEN
            'the inventory snapshot does not list it (deleted since, or of a type not listed)'
    END AS unknown,
    CASE
        WHEN snapshot_resources.vault_id IS NULL THEN 'in no vault'
        WHEN NOT snapshot_resources.vault_listed THEN
            'its vault ' || snapshot_resources.vault_id || ' is not in the snapshot'
        WHEN snapshot_resources.policy_id IS NULL THEN
            'vault ' || snapshot_resources.vault_name || ' has no backup policy'
    END AS policy_gap,
    snapshot_resources.can_protect,
    snapshot_resources.code,
    snapshot_resources.reason,
    snapshot_resources.vault_id,
    snapshot_resources.vault_listed,
    snapshot_resources.vault_name AS snapshot_vault_name,
    snapshot_resources.vault_size_gb,
    snapshot_resources.vault_used_mb,
    snapshot_resources.policy_id,
    snapshot_resources.policy_name,
    snapshot_resources.policy_enabled,
    snapshot_resources.max_interval_hours,
    snapshot_resources.retention_duration_days,
    snapshot_resources.max_backups
FROM evaluated_resources
LEFT JOIN snapshots_in_force
    ON snapshots_in_force.project_id = evaluated_resources.project_id
LEFT JOIN snapshot_resources
    ON snapshot_resources.resource_id = evaluated_resources.resource_id
