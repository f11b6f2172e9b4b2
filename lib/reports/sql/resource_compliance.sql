SELECT control, resource_id, resource_name, resource_type, vault_name, status, reason, evidence_ids
FROM resource_compliance
ORDER BY
    position,
    CASE status WHEN 'NON_COMPLIANT' THEN 0 WHEN 'INSUFFICIENT_DATA' THEN 1 ELSE 2 END,
    resource_id
