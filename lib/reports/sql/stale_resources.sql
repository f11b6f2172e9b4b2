WITH backups AS (
    SELECT
        extra_info__resource__id AS resource_id,
        extra_info__resource__name AS resource_name,
        extra_info__resource__type AS resource_type,
        vault_name,
        status,
        COALESCE(ended_at, updated_at) AS finished_at,
        created_at,
        error_info__code AS error_code,
        error_info__message AS error_message,
        row_number() OVER (
            PARTITION BY extra_info__resource__id ORDER BY created_at DESC, id DESC
        ) AS recency
    FROM latest
    WHERE operation_type = 'backup' AND extra_info__resource__id IS NOT NULL AND created_at < {at}
),
last_success AS (
    SELECT resource_id, MAX(finished_at) AS last_success_at
    FROM backups
    WHERE status = 'success'
    GROUP BY resource_id
),
last_failure AS (
    SELECT resource_id, error_code, error_message, created_at AS last_failure_at
    FROM (
        SELECT
            backups.*,
            row_number() OVER (PARTITION BY resource_id ORDER BY created_at DESC) AS failure_rank
        FROM backups
        WHERE status IN ('failed', 'timeout')
    ) AS failures
    WHERE failure_rank = 1
)
SELECT
    newest.resource_id,
    newest.resource_name,
    newest.resource_type,
    newest.vault_name,
    last_success.last_success_at,
    round_half_up(date_diff('second', last_success.last_success_at, {at}) / 3600.0, 1) AS hours_since_success,
    last_failure.last_failure_at,
    last_failure.error_code AS last_failure_code,
    last_failure.error_message AS last_failure_message
FROM backups AS newest
LEFT JOIN last_success ON last_success.resource_id = newest.resource_id
LEFT JOIN last_failure ON last_failure.resource_id = newest.resource_id
WHERE newest.recency = 1
    AND (
        last_success.last_success_at IS NULL
        OR epoch({at}) - epoch(last_success.last_success_at) > {hours} * 3600
    )
ORDER BY last_success.last_success_at NULLS FIRST, newest.resource_id
