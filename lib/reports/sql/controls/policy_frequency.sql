SELECT
    'policy-frequency' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN unknown IS NOT NULL OR policy_gap IS NOT NULL THEN 'INSUFFICIENT_DATA'
        WHEN NOT COALESCE(policy_enabled, FALSE) THEN 'NON_COMPLIANT'
        WHEN max_interval_hours IS NULL THEN 'INSUFFICIENT_DATA'
        WHEN max_interval_hours <= {max_backup_interval_hours} THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN unknown IS NOT NULL THEN unknown
        WHEN policy_gap IS NOT NULL THEN policy_gap || ': no backup schedule to judge'
        WHEN NOT COALESCE(policy_enabled, FALSE) THEN
            'the backup policy ' || policy_name || ' is disabled: it schedules no backup'
        WHEN max_interval_hours IS NULL THEN
            'the schedule of the backup policy ' || policy_name
            || ' could not be read (never guessed)'
        ELSE
            'the backup policy ' || policy_name || ' leaves at most '
            || age_text(max_interval_hours)
            || ' between scheduled backups, at most {max_backup_interval_hours} h allowed'
    END AS reason,
    CASE WHEN snapshot_id IS NOT NULL THEN concat_ws(',', snapshot_id, vault_id, policy_id) END
        AS evidence_ids
FROM resource_protection
