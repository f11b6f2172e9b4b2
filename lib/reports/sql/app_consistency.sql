SELECT
    id,
    created_at,
    status,
    extra_info__resource__id AS resource_id,
    extra_info__resource__name AS resource_name,
    vault_name,
    extra_info__backup__app_consistency_status AS app_consistency_status,
    extra_info__backup__app_consistency_error_code AS app_consistency_error_code,
    extra_info__backup__app_consistency_error_message AS app_consistency_error_message
FROM latest
WHERE operation_type = 'backup'
    AND (
        COALESCE(extra_info__backup__app_consistency_error_code, '') <> ''
        OR COALESCE(extra_info__backup__app_consistency_error_message, '') <> ''
    )
    AND created_at >= {since} AND created_at < {until}
ORDER BY created_at DESC, id
