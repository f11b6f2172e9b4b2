WITH asked AS (
    SELECT
        extra_info__resource__id AS resource_id,
        id,
        COALESCE(extra_info__backup__app_consistency_error_code, '') AS error_code,
        COALESCE(extra_info__backup__app_consistency_error_message, '') AS error_message,
        row_number() OVER (
            PARTITION BY extra_info__resource__id ORDER BY created_at DESC, id DESC
        ) AS recency
    FROM latest
    WHERE operation_type = 'backup'
        AND created_at >= {since} AND created_at < {at}
        AND (
            COALESCE(extra_info__backup__app_consistency_status, '') <> ''
            OR COALESCE(extra_info__backup__app_consistency_error_code, '') <> ''
            OR COALESCE(extra_info__backup__app_consistency_error_message, '') <> ''
        )
)
SELECT
    'app-consistency' AS control,
    evaluated_resources.resource_id,
    evaluated_resources.resource_name,
    evaluated_resources.resource_type,
    evaluated_resources.vault_name,
    CASE
        WHEN asked.id IS NULL THEN 'INSUFFICIENT_DATA'
        WHEN asked.error_code = '' AND asked.error_message = '' THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN asked.id IS NULL THEN 'no backup in the period asked for application consistency'
        WHEN asked.error_code = '' AND asked.error_message = '' THEN
            'the latest application-consistent backup had no application-consistency error'
        ELSE
            'the latest application-consistent backup failed it: '
            || TRIM(asked.error_code || ' ' || substr(asked.error_message, 1, 200))
    END AS reason,
    asked.id AS evidence_ids
FROM evaluated_resources
LEFT JOIN asked ON asked.resource_id = evaluated_resources.resource_id AND asked.recency = 1
