WITH bounds AS (
    SELECT date_trunc('day', {since}) AS first_day, date_trunc('day', {at}) AS last_day
),
days AS (
    -- the series never runs backwards (an error on Athena): it ends at first_day at the least
    SELECT CAST(span.day AS DATE) AS day
    FROM bounds
    CROSS JOIN UNNEST(
        generate_series(first_day, GREATEST(first_day, last_day), INTERVAL 1 DAY)
    ) AS span (day)
    WHERE span.day <= last_day AND span.day < {until}
),
tasks AS (
    SELECT
        CAST(created_at AS DATE) AS day,
        project_id,
        COUNT(*) AS tasks,
        SUM(CASE WHEN status IN ('running', 'waiting') THEN 1 ELSE 0 END) AS unfinished
    FROM latest
    WHERE created_at >= {since} AND created_at < {until}
    GROUP BY CAST(created_at AS DATE), project_id
),
errors_by_reason AS (
    SELECT CAST(observed_at AS DATE) AS day, project_id, reason, COUNT(*) AS error_rows
    FROM operation_log_errors
    WHERE observed_at >= {since} AND observed_at < {until}
    GROUP BY CAST(observed_at AS DATE), project_id, reason
),
errors AS (
    SELECT
        day,
        project_id,
        SUM(error_rows) AS error_rows,
        string_agg(
            COALESCE(reason, '?') || ': ' || CAST(error_rows AS VARCHAR), ', ' ORDER BY reason
        ) AS error_reasons
    FROM errors_by_reason
    GROUP BY day, project_id
),
projects AS (
    SELECT project_id FROM tasks
    UNION
    SELECT project_id FROM errors
    UNION
    SELECT project_id FROM discover_state
)
SELECT
    days.day,
    projects.project_id,
    COALESCE(tasks.tasks, 0) AS tasks,
    COALESCE(tasks.unfinished, 0) AS unfinished,
    COALESCE(errors.error_rows, 0) AS error_rows,
    errors.error_reasons,
    discover_state.watermark,
    CASE
        WHEN discover_state.watermark IS NULL THEN 'no watermark'
        WHEN discover_state.watermark >= days.day + INTERVAL 1 DAY THEN 'complete'
        WHEN discover_state.watermark > days.day THEN 'partly'
        ELSE 'not yet'
    END AS discovered
FROM days
CROSS JOIN projects
LEFT JOIN tasks ON tasks.day = days.day AND tasks.project_id IS NOT DISTINCT FROM projects.project_id
LEFT JOIN errors
    ON errors.day = days.day AND errors.project_id IS NOT DISTINCT FROM projects.project_id
LEFT JOIN discover_state ON discover_state.project_id = projects.project_id
WHERE projects.project_id IS NOT NULL OR errors.error_rows > 0  -- rows with no project: errors
ORDER BY days.day, projects.project_id NULLS LAST
