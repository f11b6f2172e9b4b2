SELECT
    'resource-protected' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN unknown IS NOT NULL THEN 'INSUFFICIENT_DATA'
        WHEN vault_id IS NOT NULL THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN unknown IS NOT NULL THEN unknown
        WHEN vault_id IS NOT NULL THEN 'in vault ' || snapshot_vault_name
        WHEN can_protect = FALSE THEN
            'in no vault; CBR cannot protect it: '
            || TRIM(COALESCE(code, '') || ' ' || substr(COALESCE(reason, ''), 1, 200))
        ELSE 'in no vault'
    END AS reason,
    CASE WHEN snapshot_id IS NOT NULL THEN concat_ws(',', snapshot_id, vault_id) END
        AS evidence_ids
FROM resource_protection
