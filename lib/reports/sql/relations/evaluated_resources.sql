-- The resources the controls evaluate: those of the operation logs and those the inventory
-- snapshot in force lists, together. The snapshot names a resource it lists (its vault now);
-- the operation logs name the others.
SELECT
    COALESCE(resources.resource_id, snapshot_resources.resource_id) AS resource_id,
    COALESCE(snapshot_resources.resource_name, resources.resource_name) AS resource_name,
    COALESCE(snapshot_resources.resource_type, resources.resource_type) AS resource_type,
    CASE
        WHEN snapshot_resources.resource_id IS NULL THEN resources.vault_name
        ELSE snapshot_resources.vault_name
    END AS vault_name,
    resources.first_backup_at,
    COALESCE(resources.project_id, snapshot_resources.project_id) AS project_id,
    resources.resource_id IS NOT NULL AS from_logs
FROM resources
FULL JOIN snapshot_resources ON snapshot_resources.resource_id = resources.resource_id
