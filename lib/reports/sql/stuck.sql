SELECT
    id,
    operation_type,
    status,
    created_at,
    updated_at,
    round_half_up(date_diff('second', created_at, {at}) / 3600.0, 1) AS hours_open,
    extra_info__common__progress AS progress,
    extra_info__resource__id AS resource_id,
    extra_info__resource__name AS resource_name,
    vault_name
FROM latest
WHERE status IN ('running', 'waiting') AND epoch({at}) - epoch(created_at) > {hours} * 3600
ORDER BY created_at, id
