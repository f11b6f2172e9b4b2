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
    UNION
    SELECT project_id FROM proof_spans
),
-- What is proven: the spans discovery listed and verify proved, merged where they overlap or
-- touch, per source and ('any') all together (a running maximum of the ends: gaps and islands).
spans AS (
    SELECT project_id, source, span_start, span_end FROM proof_spans WHERE span_start < span_end
    UNION ALL
    SELECT project_id, 'any' AS source, span_start, span_end
    FROM proof_spans
    WHERE span_start < span_end
),
reached AS (
    SELECT
        project_id,
        source,
        span_start,
        span_end,
        MAX(span_end) OVER (
            PARTITION BY project_id, source ORDER BY span_start, span_end
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reached_before
    FROM spans
),
islands AS (
    SELECT
        project_id,
        source,
        span_start,
        span_end,
        SUM(CASE WHEN reached_before IS NULL OR span_start > reached_before THEN 1 ELSE 0 END)
            OVER (
                PARTITION BY project_id, source ORDER BY span_start, span_end
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS island
    FROM reached
),
merged AS (
    SELECT project_id, source, MIN(span_start) AS span_start, MAX(span_end) AS span_end
    FROM islands
    GROUP BY project_id, source, island
),
-- Each day as far as the period reaches into it (the first and the last may be cut).
day_bounds AS (
    SELECT
        day,
        GREATEST(CAST(day AS TIMESTAMP), {since}) AS day_start,
        LEAST(CAST(day AS TIMESTAMP) + INTERVAL 1 DAY, {at}) AS day_end
    FROM days
),
day_proof AS (
    SELECT
        day_bounds.day,
        merged.project_id,
        MAX(CASE WHEN merged.source = 'discovery' AND merged.span_start <= day_start
            AND merged.span_end >= day_end THEN 1 ELSE 0 END) AS by_discovery,
        MAX(CASE WHEN merged.source = 'verify' AND merged.span_start <= day_start
            AND merged.span_end >= day_end THEN 1 ELSE 0 END) AS by_verify,
        MAX(CASE WHEN merged.source = 'any' AND merged.span_start <= day_start
            AND merged.span_end >= day_end THEN 1 ELSE 0 END) AS by_both
    FROM day_bounds
    JOIN merged ON merged.span_start < day_bounds.day_end AND merged.span_end > day_bounds.day_start
    GROUP BY day_bounds.day, merged.project_id
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
        WHEN day_proof.by_discovery = 1 AND day_proof.by_verify = 0 THEN 'discovery'
        WHEN day_proof.by_verify = 1 AND day_proof.by_discovery = 0 THEN 'verify'
        WHEN day_proof.by_both = 1 THEN 'discovery, verify'
        WHEN day_proof.day IS NOT NULL THEN 'partly'
        ELSE 'not'
    END AS proven
FROM days
CROSS JOIN projects
LEFT JOIN tasks ON tasks.day = days.day AND tasks.project_id IS NOT DISTINCT FROM projects.project_id
LEFT JOIN errors
    ON errors.day = days.day AND errors.project_id IS NOT DISTINCT FROM projects.project_id
LEFT JOIN discover_state ON discover_state.project_id = projects.project_id
LEFT JOIN day_proof ON day_proof.day = days.day AND day_proof.project_id = projects.project_id
WHERE projects.project_id IS NOT NULL OR errors.error_rows > 0  -- rows with no project: errors
ORDER BY days.day, projects.project_id NULLS LAST
