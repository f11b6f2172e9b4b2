WITH rules AS (
    SELECT
        resource_protection.*,
        -- -1 (or nothing) means the policy has no rule of that kind
        CASE WHEN retention_duration_days >= 0 THEN retention_duration_days END AS keep_days,
        CASE WHEN max_backups >= 0 THEN max_backups END AS keep_count
    FROM resource_protection
),
judged AS (
    SELECT rules.*, keep_count * max_interval_hours / 24.0 AS count_days
    FROM rules
)
SELECT
    'policy-retention' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN unknown IS NOT NULL OR policy_gap IS NOT NULL THEN 'INSUFFICIENT_DATA'
        WHEN keep_days IS NOT NULL AND keep_days >= {policy_retention_days} THEN 'COMPLIANT'
        WHEN keep_days IS NOT NULL THEN 'NON_COMPLIANT'
        WHEN keep_count IS NULL THEN 'COMPLIANT'
        WHEN count_days IS NULL THEN 'INSUFFICIENT_DATA'
        WHEN count_days >= {policy_retention_days} THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN unknown IS NOT NULL THEN unknown
        WHEN policy_gap IS NOT NULL THEN policy_gap || ': no retention to judge'
        WHEN keep_days IS NOT NULL THEN
            'the backup policy ' || policy_name || ' keeps each backup '
            || CAST(keep_days AS VARCHAR) || ' d, at least {policy_retention_days} d required'
        WHEN keep_count IS NULL THEN
            'the backup policy ' || policy_name || ' has no retention limit: backups are kept'
            || ' for ever'
        WHEN count_days IS NULL THEN
            'the backup policy ' || policy_name || ' keeps the last '
            || CAST(keep_count AS VARCHAR)
            || ' backups, but its schedule could not be read (never guessed)'
        ELSE
            'the backup policy ' || policy_name || ' keeps the last '
            || CAST(keep_count AS VARCHAR) || ' backups, one at most every '
            || age_text(max_interval_hours) || ': '
            || age_text(count_days * 24)
            || ', at least {policy_retention_days} d required'
    END AS reason,
    CASE WHEN snapshot_id IS NOT NULL THEN concat_ws(',', snapshot_id, vault_id, policy_id) END
        AS evidence_ids
FROM judged
