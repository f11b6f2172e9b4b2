SELECT
    project_id,
    resource_type,
    resource_name,
    resource_id,
    status,
    vault_name,
    CASE
        WHEN vault_id IS NULL AND can_protect = FALSE THEN
            'in no vault; CBR cannot protect it: '
            || TRIM(COALESCE(code, '') || ' ' || substr(COALESCE(reason, ''), 1, 200))
        WHEN vault_id IS NULL THEN 'in no vault'
        WHEN NOT vault_listed THEN 'its vault ' || vault_id || ' is not in the snapshot'
        WHEN policy_id IS NULL THEN 'vault ' || vault_name || ' has no backup policy'
        ELSE 'the backup policy ' || policy_name || ' of vault ' || vault_name || ' is disabled'
    END AS why,
    snapshot_at
FROM snapshot_resources
WHERE vault_id IS NULL
    OR NOT vault_listed
    OR policy_id IS NULL
    OR NOT COALESCE(policy_enabled, FALSE)
ORDER BY
    project_id,
    CASE WHEN vault_id IS NULL THEN 0 WHEN policy_id IS NULL THEN 1 ELSE 2 END,
    resource_type,
    resource_name,
    resource_id
