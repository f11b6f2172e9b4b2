SELECT
    control_list.control,
    control_list.title,
    control_list.parameters,
    COUNT(resource_compliance.resource_id) AS resources,
    SUM(CASE WHEN resource_compliance.status = 'COMPLIANT' THEN 1 ELSE 0 END) AS compliant,
    SUM(CASE WHEN resource_compliance.status = 'NON_COMPLIANT' THEN 1 ELSE 0 END) AS non_compliant,
    SUM(CASE WHEN resource_compliance.status = 'INSUFFICIENT_DATA' THEN 1 ELSE 0 END)
        AS insufficient_data,
    CASE
        WHEN SUM(CASE WHEN resource_compliance.status <> 'INSUFFICIENT_DATA' THEN 1 ELSE 0 END) > 0
        THEN round_half_up(
            SUM(CASE WHEN resource_compliance.status = 'COMPLIANT' THEN 1 ELSE 0 END) * 1.0
            / SUM(CASE WHEN resource_compliance.status <> 'INSUFFICIENT_DATA' THEN 1 ELSE 0 END),
            4
        )
    END AS compliance_rate
FROM control_list
LEFT JOIN resource_compliance ON resource_compliance.control = control_list.control
GROUP BY control_list.position, control_list.control, control_list.title, control_list.parameters
ORDER BY control_list.position
