SELECT
    'policy-assigned' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN unknown IS NOT NULL THEN 'INSUFFICIENT_DATA'
        WHEN vault_id IS NOT NULL AND NOT vault_listed THEN 'INSUFFICIENT_DATA'
        WHEN policy_gap IS NULL AND policy_enabled THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN unknown IS NOT NULL THEN unknown
        WHEN policy_gap IS NOT NULL THEN policy_gap
        WHEN policy_enabled THEN
            'vault ' || snapshot_vault_name || ' is bound to the enabled backup policy '
            || policy_name
        ELSE 'the backup policy ' || policy_name || ' of vault ' || snapshot_vault_name
            || ' is disabled'
    END AS reason,
    CASE WHEN snapshot_id IS NOT NULL THEN concat_ws(',', snapshot_id, vault_id, policy_id) END
        AS evidence_ids
FROM resource_protection
