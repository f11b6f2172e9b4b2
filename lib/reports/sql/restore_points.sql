WITH points AS (
    SELECT
        project_id,
        resource_id,
        MAX(resource_name) AS resource_name,
        MAX(resource_type) AS resource_type,
        MAX(vault_id) AS vault_id,
        SUM(CASE WHEN status = 'available' THEN 1 ELSE 0 END) AS restore_points,
        MAX(CASE WHEN status = 'available' THEN COALESCE(protected_at, created_at) END)
            AS newest_at,
        MIN(CASE WHEN status = 'available' THEN COALESCE(protected_at, created_at) END)
            AS oldest_at,
        MIN(CASE WHEN status = 'available' THEN expired_at END) AS next_expiry_at,
        SUM(CASE WHEN status = 'available' AND auto_trigger THEN 1 ELSE 0 END) AS automatic,
        SUM(CASE WHEN status = 'available' AND NOT auto_trigger THEN 1 ELSE 0 END) AS manual,
        SUM(CASE WHEN status = 'available' AND encrypted THEN 1 ELSE 0 END) AS encrypted,
        SUM(CASE WHEN COALESCE(status, '') <> 'available' THEN 1 ELSE 0 END) AS not_available
    FROM snapshot_backups
    WHERE resource_id IS NOT NULL
    GROUP BY project_id, resource_id
),
listed AS (
    SELECT project_id, resource_id, resource_name, resource_type, vault_name, snapshot_at
    FROM snapshot_resources
)
SELECT
    COALESCE(listed.project_id, points.project_id) AS project_id,
    COALESCE(listed.resource_type, points.resource_type) AS resource_type,
    COALESCE(listed.resource_name, points.resource_name) AS resource_name,
    COALESCE(listed.resource_id, points.resource_id) AS resource_id,
    COALESCE(listed.vault_name, vaults.name, points.vault_id) AS vault_name,
    COALESCE(points.restore_points, 0) AS restore_points,
    points.newest_at,
    points.oldest_at,
    points.next_expiry_at,
    COALESCE(points.automatic, 0) AS automatic,
    COALESCE(points.manual, 0) AS manual,
    COALESCE(points.encrypted, 0) AS encrypted,
    COALESCE(points.not_available, 0) AS not_available,
    COALESCE(listed.snapshot_at, snapshots_in_force.snapshot_at) AS snapshot_at
FROM listed
FULL JOIN points ON points.resource_id = listed.resource_id
LEFT JOIN snapshot_vaults AS vaults
    ON vaults.project_id = points.project_id AND vaults.id = points.vault_id
LEFT JOIN snapshots_in_force ON snapshots_in_force.project_id = points.project_id
ORDER BY
    points.newest_at NULLS FIRST,
    COALESCE(listed.project_id, points.project_id),
    COALESCE(listed.resource_name, points.resource_name),
    COALESCE(listed.resource_id, points.resource_id)
