WITH backups AS (
    SELECT
        extra_info__resource__id AS resource_id,
        id,
        status,
        COALESCE(ended_at, updated_at) AS finished_at,
        row_number() OVER (
            PARTITION BY extra_info__resource__id ORDER BY created_at DESC, id DESC
        ) AS recency
    FROM latest
    WHERE operation_type = 'backup' AND created_at < {at}
),
last_success AS (
    SELECT
        resource_id,
        id,
        (epoch({at}) - epoch(finished_at)) / 3600.0 AS age_hours,
        row_number() OVER (PARTITION BY resource_id ORDER BY finished_at DESC, id DESC) AS recency
    FROM backups
    WHERE status = 'success' AND finished_at <= {at}
),
lake AS (
    -- how far back the lake's operation logs reach: a resource only the inventory lists is
    -- "never backed up" once they reach back the RPO
    SELECT (epoch({at}) - epoch(MIN(created_at))) / 3600.0 AS history_hours
    FROM latest
    WHERE created_at < {at}
),
judged AS (
    SELECT
        evaluated_resources.*,
        last_success.id AS success_id,
        last_success.age_hours,
        backups.id AS last_task_id,
        (epoch({at}) - epoch(evaluated_resources.first_backup_at)) / 3600.0 AS watched_hours,
        lake.history_hours,
        points.id AS point_id,
        (epoch({at}) - epoch(points.made_at)) / 3600.0 AS point_age_hours
    FROM evaluated_resources
    CROSS JOIN lake
    LEFT JOIN last_success
        ON last_success.resource_id = evaluated_resources.resource_id
        AND last_success.recency = 1
    LEFT JOIN backups
        ON backups.resource_id = evaluated_resources.resource_id AND backups.recency = 1
    LEFT JOIN newest_restore_points AS points
        ON points.resource_id = evaluated_resources.resource_id
)
SELECT
    'backup-within-rpo' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN success_id IS NOT NULL AND age_hours <= {rpo_hours} THEN 'COMPLIANT'
        WHEN success_id IS NULL AND watched_hours < {rpo_hours} THEN 'INSUFFICIENT_DATA'
        WHEN NOT from_logs AND COALESCE(history_hours, 0) < {rpo_hours} THEN 'INSUFFICIENT_DATA'
        -- a restore point proves it was backed up: the lake misses its tasks, so cannot judge
        WHEN NOT from_logs AND point_id IS NOT NULL THEN 'INSUFFICIENT_DATA'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN success_id IS NOT NULL THEN
            'last successful backup '
            || age_text(age_hours)
            || ' before the evaluation time, RPO {rpo_hours} h'
        WHEN NOT from_logs AND COALESCE(history_hours, 0) < {rpo_hours} THEN
            'no backup task in the lake, but its operation logs reach back only '
            || age_text(COALESCE(history_hours, 0))
            || ' of the RPO {rpo_hours} h'
        WHEN NOT from_logs AND point_id IS NOT NULL THEN
            'no backup task in the lake, but the inventory snapshot holds a restore point made '
            || age_text(point_age_hours)
            || ' before the evaluation time: the lake is missing its backup tasks'
        WHEN NOT from_logs THEN
            'never backed up: no backup task in the lake, whose operation logs reach back '
            || age_text(history_hours)
            || ', RPO {rpo_hours} h'
        WHEN last_task_id IS NULL THEN 'no backup task before the evaluation time'
        WHEN watched_hours < {rpo_hours} THEN
            'no successful backup yet; the first backup task is '
            || age_text(watched_hours)
            || ' old, less than the RPO {rpo_hours} h'
        ELSE 'no successful backup in the lake, RPO {rpo_hours} h'
    END AS reason,
    COALESCE(success_id, last_task_id, point_id) AS evidence_ids
FROM judged
