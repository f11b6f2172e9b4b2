WITH days AS (
    SELECT
        resource_id,
        COUNT(*) AS days,
        SUM(CASE WHEN successes > 0 THEN 1 ELSE 0 END) AS good_days,
        MIN(CASE WHEN successes = 0 THEN day END) AS first_missed,
        string_agg(CASE WHEN successes = 0 THEN failure_ids END, ',' ORDER BY day) AS missed_ids
    FROM adherence_days
    GROUP BY resource_id
),
judged AS (
    SELECT
        evaluated_resources.*,
        COALESCE(days.days, 0) AS days,
        days.good_days,
        days.first_missed,
        days.missed_ids,
        CASE WHEN days.days > 0 THEN days.good_days * 100.0 / days.days END AS share_pct
    FROM evaluated_resources
    LEFT JOIN days ON days.resource_id = evaluated_resources.resource_id
)
SELECT
    'daily-adherence' AS control,
    resource_id,
    resource_name,
    resource_type,
    vault_name,
    CASE
        WHEN days = 0 THEN 'INSUFFICIENT_DATA'
        WHEN share_pct >= {adherence_pct} THEN 'COMPLIANT'
        ELSE 'NON_COMPLIANT'
    END AS status,
    CASE
        WHEN days = 0 THEN 'no full UTC day in the period since its first backup task'
        ELSE
            CAST(good_days AS VARCHAR) || ' of ' || CAST(days AS VARCHAR)
            || ' days had a successful backup ('
            || CAST(CAST(round_half_up(share_pct, 1) AS DECIMAL(18, 1)) AS VARCHAR)
            || ' %), required {adherence_pct} %'
            || CASE
                WHEN first_missed IS NULL THEN ''
                ELSE '; first missed ' || CAST(first_missed AS VARCHAR)
            END
    END AS reason,
    CASE WHEN days > 0 AND share_pct < {adherence_pct} THEN missed_ids END AS evidence_ids
FROM judged
