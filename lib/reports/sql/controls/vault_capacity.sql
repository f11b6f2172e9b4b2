WITH judged AS (
    SELECT
        resource_protection.*,
        CASE
            WHEN vault_size_gb > 0 THEN vault_used_mb * 100.0 / (vault_size_gb * 1024.0)
        END AS used_pct
    FROM resource_protection
)
SELECT
    'vault-capacity' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN unknown IS NOT NULL OR vault_id IS NULL OR NOT vault_listed THEN 'INSUFFICIENT_DATA'
        WHEN used_pct IS NULL THEN 'INSUFFICIENT_DATA'
        WHEN used_pct < {vault_usage_pct} THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN unknown IS NOT NULL THEN unknown
        WHEN vault_id IS NULL THEN 'in no vault: no capacity to judge'
        WHEN NOT vault_listed THEN policy_gap || ': no capacity to judge'
        WHEN used_pct IS NULL THEN
            'vault ' || snapshot_vault_name || ' states no size or usage'
        ELSE
            'vault ' || snapshot_vault_name || ' is '
            || CAST(CAST(round_half_up(used_pct, 1) AS DECIMAL(18, 1)) AS VARCHAR)
            || ' % full ('
            || CAST(CAST(round_half_up(vault_used_mb / 1024.0, 1) AS DECIMAL(18, 1)) AS VARCHAR)
            || ' of ' || CAST(vault_size_gb AS VARCHAR) || ' GB), '
            || CASE WHEN used_pct < {vault_usage_pct} THEN 'below' ELSE 'not below' END
            || ' {vault_usage_pct} %'
    END AS reason,
    CASE WHEN snapshot_id IS NOT NULL THEN concat_ws(',', snapshot_id, vault_id) END
        AS evidence_ids
FROM judged
