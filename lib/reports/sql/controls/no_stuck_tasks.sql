WITH stuck AS (
    SELECT
        extra_info__resource__id AS resource_id,
        COUNT(*) AS tasks,
        MAX(epoch({at}) - epoch(created_at)) / 3600.0 AS oldest_hours,
        string_agg(id, ',' ORDER BY id) AS task_ids
    FROM latest
    WHERE extra_info__resource__id IS NOT NULL
        AND created_at < {at}
        AND epoch({at}) - epoch(created_at) > {stuck_hours} * 3600
        AND (status IN ('running', 'waiting') OR ended_at > {at})
    GROUP BY extra_info__resource__id
)
SELECT
    'no-stuck-tasks' AS control,
    evaluated_resources.resource_id,
    evaluated_resources.resource_name,
    evaluated_resources.resource_type,
    evaluated_resources.vault_name,
    CASE WHEN stuck.tasks > 0 THEN 'NON_COMPLIANT' ELSE 'COMPLIANT' END AS status,
    CASE
        WHEN stuck.tasks > 0 THEN
            CAST(stuck.tasks AS VARCHAR) || ' task(s) open longer than {stuck_hours} h, the oldest '
            || age_text(stuck.oldest_hours)
        ELSE 'no task open longer than {stuck_hours} h at the evaluation time'
    END AS reason,
    stuck.task_ids AS evidence_ids
FROM evaluated_resources
LEFT JOIN stuck ON stuck.resource_id = evaluated_resources.resource_id
