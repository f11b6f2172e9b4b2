WITH span AS (
    SELECT
        CASE
            WHEN date_trunc('day', {since}) = {since} THEN {since}
            ELSE date_trunc('day', {since}) + INTERVAL 1 DAY
        END AS first_day,
        date_trunc('day', {at}) AS end_day
),
bounds AS (
    SELECT
        resources.resource_id,
        resources.resource_name,
        resources.resource_type,
        resources.vault_name,
        GREATEST(span.first_day, date_trunc('day', resources.first_backup_at)) AS first_day,
        span.end_day - INTERVAL 1 DAY AS last_day
    FROM resources
    CROSS JOIN span
    WHERE resources.first_backup_at IS NOT NULL
),
grid AS (
    -- the series never runs backwards (an error on Athena, where a resource first backed up on
    -- the evaluation day would start after the last full day): it ends at first_day at the least
    SELECT
        bounds.resource_id,
        bounds.resource_name,
        bounds.resource_type,
        bounds.vault_name,
        CAST(days.day AS DATE) AS day
    FROM bounds
    CROSS JOIN UNNEST(
        generate_series(
            bounds.first_day, GREATEST(bounds.first_day, bounds.last_day), INTERVAL 1 DAY
        )
    ) AS days (day)
    WHERE days.day <= bounds.last_day
),
backups AS (
    SELECT extra_info__resource__id AS resource_id, CAST(created_at AS DATE) AS day, id, status
    FROM latest
    WHERE operation_type = 'backup' AND created_at >= {since} AND created_at < {at}
)
SELECT
    grid.resource_id,
    grid.resource_name,
    grid.resource_type,
    grid.vault_name,
    grid.day,
    COUNT(backups.id) AS backups,
    SUM(CASE WHEN backups.status = 'success' THEN 1 ELSE 0 END) AS successes,
    SUM(CASE WHEN backups.status IN ('failed', 'timeout') THEN 1 ELSE 0 END) AS failures,
    string_agg(
        CASE WHEN backups.status = 'success' THEN backups.id END, ',' ORDER BY backups.id
    ) AS success_ids,
    string_agg(
        CASE WHEN backups.status IN ('failed', 'timeout') THEN backups.id END, ','
        ORDER BY backups.id
    ) AS failure_ids
FROM grid
LEFT JOIN backups ON backups.resource_id = grid.resource_id AND backups.day = grid.day
GROUP BY grid.resource_id, grid.resource_name, grid.resource_type, grid.vault_name, grid.day
