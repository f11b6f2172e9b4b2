SELECT
    id,
    operation_type,
    status,
    created_at,
    started_at,
    ended_at,
    updated_at,
    extra_info__resource__id AS resource_id,
    extra_info__resource__name AS resource_name,
    vault_name,
    error_info__code AS error_code
FROM latest
WHERE COALESCE(created_at, started_at, ingested_at) >= {since}
    AND COALESCE(created_at, started_at, ingested_at) < {until}
ORDER BY created_at NULLS LAST, id
