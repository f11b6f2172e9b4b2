WITH judged AS (
    SELECT
        resource_protection.*,
        points.id AS backup_id,
        (epoch(resource_protection.snapshot_at) - epoch(points.made_at)) / 3600.0 AS age_hours
    FROM resource_protection
    LEFT JOIN newest_restore_points AS points
        ON points.resource_id = resource_protection.resource_id
)
SELECT
    'restore-point-fresh' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN snapshot_id IS NULL THEN 'INSUFFICIENT_DATA'
        WHEN backup_id IS NULL AND NOT listed THEN 'INSUFFICIENT_DATA'
        WHEN backup_id IS NULL THEN 'NON_COMPLIANT'
        WHEN age_hours <= {rpo_hours} THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN snapshot_id IS NULL THEN unknown
        WHEN backup_id IS NULL AND NOT listed THEN
            'the inventory snapshot lists neither it nor an available restore point of it'
        WHEN backup_id IS NULL THEN 'no available restore point in the inventory snapshot'
        ELSE
            'newest available restore point made '
            || age_text(age_hours)
            || ' before the inventory snapshot, RPO {rpo_hours} h'
    END AS reason,
    CASE WHEN snapshot_id IS NOT NULL THEN concat_ws(',', snapshot_id, backup_id) END
        AS evidence_ids
FROM judged
