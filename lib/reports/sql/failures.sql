SELECT
    COALESCE(error_info__code, '') AS error_code,
    COUNT(*) OVER (PARTITION BY COALESCE(error_info__code, '')) AS code_count,
    id,
    operation_type,
    status,
    created_at,
    extra_info__resource__id AS resource_id,
    extra_info__resource__name AS resource_name,
    extra_info__resource__type AS resource_type,
    vault_name,
    error_info__message AS error_message
FROM latest
WHERE status IN ('failed', 'timeout') AND created_at >= {since} AND created_at < {until}
ORDER BY code_count DESC, error_code, created_at DESC, id
