-- The newest available restore point of each resource in the inventory snapshot in force: when
-- it was made (protected_at, else created_at).
SELECT resource_id, id, made_at
FROM (
    SELECT
        resource_id,
        id,
        COALESCE(protected_at, created_at) AS made_at,
        row_number() OVER (
            PARTITION BY resource_id ORDER BY COALESCE(protected_at, created_at) DESC, id DESC
        ) AS recency
    FROM snapshot_backups
    WHERE status = 'available'
) AS points
WHERE recency = 1
