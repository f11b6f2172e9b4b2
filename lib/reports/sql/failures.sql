-- title: Failed and timed-out tasks
-- description: Failed and timed-out tasks created in the period, grouped by error code, most frequent first.
-- window_days: 7
-- chart: horizontal
-- chart_x: error_code
-- chart_y: code_count
-- chart_combine: max
-- chart_order: value
-- chart_unit: failed tasks
-- chart_title: failed tasks per error code
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
