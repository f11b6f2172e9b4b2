-- title: Daily backup adherence
-- description: Per evaluated resource and full UTC day of the period, from the day of its first backup task: backups created that day, successful and failed, with their task IDs.
-- window_days: 30
-- history: true
-- chart: heatmap
-- chart_x: day
-- chart_rows: resource_id
-- chart_label: resource_name
-- chart_y: successes, failures
-- chart_unit: backups
-- chart_title: a successful backup per resource and UTC day
SELECT
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    day,
    backups,
    successes,
    failures,
    success_ids,
    failure_ids
FROM adherence_days
ORDER BY resource_id, day
