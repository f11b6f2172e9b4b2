"""The reports and the relations they share, declared: each a `.sql` file and a declaration.

Adding a report is adding its file under lib/reports/sql and one `report(...)` below (the order
here is the presentation order: the CLI list, `report all`, the HTML page). Reports read the
`latest` view (sql/latest_view.sql: one row per id, greatest updated_at then ingested_at) and the
relations: the static ones declared here (files in sql/relations), the inventory snapshot in force
(lib/reports/inventory.py), and the two composed from the chosen controls (lib/reports/compose.py).
Controls are declared in lib/reports/controls.py.
"""

from __future__ import annotations

from functools import cache

from lib.reports import inventory
from lib.reports.declaration import (
    ChartSpec,
    Query,
    ReportError,
    checked,
    relation,
    report,
    sql_text,
)

LATEST_VIEW = "latest_view.sql"

REPORTS: tuple[Query, ...] = (
    report(
        "controls",
        "controls.sql",
        "Controls",
        "One row per control: its parameters, the resources evaluated, how many were compliant, "
        "non-compliant or without enough data, and compliance_rate = compliant / (compliant + "
        "non-compliant).",
        "control title parameters resources compliant non_compliant insufficient_data "
        "compliance_rate",
        window_days=30,
        history=True,
        chart=ChartSpec(
            "horizontal",
            x="control",
            y=("compliance_rate",),
            unit="share of resources compliant",
            title="compliance per control",
            order="rows",
        ),
    ),
    report(
        "resource-compliance",
        "resource_compliance.sql",
        "Resource compliance",
        "One row per resource and control: the verdict (COMPLIANT, NON_COMPLIANT or "
        "INSUFFICIENT_DATA), a one-line reason and the evidence task IDs; non-compliant first.",
        "control resource_id resource_name resource_type vault_name status reason evidence_ids",
        window_days=30,
        history=True,
    ),
    report(
        "adherence",
        "adherence.sql",
        "Daily backup adherence",
        "Per evaluated resource and full UTC day of the period, from the day of its first backup"
        " task: backups created that day, successful and failed, with their task IDs.",
        "resource_id resource_name resource_type vault_name day backups successes failures "
        "success_ids failure_ids",
        window_days=30,
        history=True,
        chart=ChartSpec(
            "heatmap",
            x="day",
            y=("successes", "failures"),
            unit="backups",
            title="a successful backup per resource and UTC day",
            rows="resource_id",
            label="resource_name",
        ),
    ),
    report(
        "daily",
        "daily.sql",
        "Daily outcomes by operation type",
        "Per UTC day of created_at and operation type: tasks by status and the success rate.",
        "day operation_type total success failed timeout in_progress other success_rate",
        window_days=30,
        chart=ChartSpec(
            "stacked",
            x="day",
            y=("success", "failed", "timeout", "in_progress", "other"),
            unit="tasks",
            title="tasks per UTC day by status",
        ),
    ),
    report(
        "failures",
        "failures.sql",
        "Failed and timed-out tasks",
        "Failed and timed-out tasks created in the period, grouped by error code, most frequent "
        "first.",
        "error_code code_count id operation_type status created_at resource_id resource_name "
        "resource_type vault_name error_message",
        window_days=7,
        chart=ChartSpec(
            "horizontal",
            x="error_code",
            y=("code_count",),
            unit="failed tasks",
            title="failed tasks per error code",
            order="value",
            combine="max",
        ),
    ),
    report(
        "stale-resources",
        "stale_resources.sql",
        "Resources without a recent successful backup (RPO audit)",
        "Every backed-up resource whose last successful backup ended more than {hours} h before "
        "the evaluation time, or that never had one.",
        "resource_id resource_name resource_type vault_name last_success_at hours_since_success "
        "last_failure_at last_failure_code last_failure_message",
        parameters=("hours",),
        defaults={"hours": 24},
    ),
    report(
        "app-consistency",
        "app_consistency.sql",
        "Application-consistent backup failures",
        "Backups created in the period whose application-consistent snapshot failed, with the "
        "error code and message.",
        "id created_at status resource_id resource_name vault_name app_consistency_status "
        "app_consistency_error_code app_consistency_error_message",
        window_days=7,
    ),
    report(
        "replication",
        "replication.sql",
        "Cross-region replication",
        "Replication and copy tasks created in the period by source and destination region and "
        "outcome, with their average and longest duration.",
        "source_region destination_region status tasks avg_duration_s max_duration_s",
        window_days=7,
    ),
    report(
        "restores",
        "restores.sql",
        "Restores",
        "Every restore task created in the period: the resource, the backup restored and the "
        "resource it came from, the target, the outcome and the duration.",
        "id created_at status resource_id resource_name backup_id backup_name backup_resource_id"
        " target_resource_id target_resource_name vault_name ended_at duration_s error_code "
        "error_message",
        window_days=30,
        history=True,
    ),
    report(
        "deletions",
        "deletions.sql",
        "Deletions",
        "Every delete and vault_delete task created in the period: what it removed, the backup's"
        " age when it was deleted (the delete's end minus the backup's end, when the backup's "
        "creation is in the lake) and the outcome.",
        "id operation_type status created_at ended_at resource_id resource_name vault_name "
        "backup_id backup_name backup_task_id backup_finished_at backup_age_s vault_backups "
        "vault_backups_failed error_code",
        window_days=30,
        history=True,
    ),
    report(
        "durations",
        "durations.sql",
        "Task durations by operation type",
        "p50, p95 and maximum of ended_at - started_at per operation type (tasks created in the "
        "period), and the slowest task.",
        "operation_type tasks p50_s p95_s max_s slowest_id",
        window_days=30,
        chart=ChartSpec(
            "grouped",
            x="operation_type",
            y=("p50_s", "p95_s", "max_s"),
            unit="seconds",
            title="task duration percentiles per operation type",
            order="rows",
        ),
    ),
    report(
        "stuck",
        "stuck.sql",
        "Stuck tasks",
        "Tasks still running or waiting more than {hours} h after they were created.",
        "id operation_type status created_at updated_at hours_open progress resource_id "
        "resource_name vault_name",
        parameters=("hours",),
        defaults={"hours": 6},
    ),
    report(
        "coverage",
        "coverage.sql",
        "Lake coverage",
        "Per UTC day of the period and project: tasks in the lake (by created_at), tasks still "
        "unfinished, error rows by reason (by observed_at), the project's discovery watermark, "
        "and whether the day is proven complete (by discovery's listing, by verify, partly, "
        "or not): only a proven day holds every task the API listed for it.",
        "day project_id tasks unfinished error_rows error_reasons watermark proven",
        window_days=30,
    ),
    report(
        "unprotected",
        "unprotected.sql",
        "Unprotected resources",
        "Every resource the inventory snapshot in force lists that is in no vault, or in a vault "
        "without an enabled backup policy: its type, name, status and why.",
        "project_id resource_type resource_name resource_id status vault_name why snapshot_at",
    ),
    report(
        "inventory",
        "inventory.sql",
        "Vaults and their policies",
        "Per vault of the inventory snapshot in force: its size and usage, its backup policy with "
        "the policy's schedule (the longest gap between two scheduled backups) and retention, "
        "the resources it holds, and whether it is locked.",
        "project_id vault_name vault_id object_type status size_gb used_gb used_rate policy_name "
        "policy_enabled schedule hours_longest_gap retention resources locked snapshot_at",
    ),
    report(
        "restore-points",
        "restore_points.sql",
        "Restore points",
        "Per resource of the inventory snapshot in force: its available restore points, the "
        "newest and oldest, the next to expire, how many were made automatically or by hand and "
        "how many are encrypted, and those not available; resources without one first.",
        "project_id resource_type resource_name resource_id vault_name restore_points newest_at "
        "oldest_at next_expiry_at automatic manual encrypted not_available snapshot_at",
    ),
    report(
        "latest",
        "latest.sql",
        "Latest state of each task",
        "One row per task id: the snapshot with the greatest updated_at, then ingested_at; a "
        "period selects by created_at (else started_at, else ingested_at, as the dt partition "
        "does).",
        "id operation_type status created_at started_at ended_at updated_at resource_id "
        "resource_name vault_name error_code",
        window_days=0,
    ),
)

# Relations a query may read besides `latest`, in the order they can be defined: each may read
# the ones before it. The static ones are declared here; the composed ones are built from the
# controls chosen (lib/reports/compose.py).
STATIC_RELATIONS: tuple[Query, ...] = (
    relation(
        "resources",
        "relations/resources.sql",
        "Resources of the operation logs",
        "Every resource with a backup task created before the evaluation time, or a delete task "
        "in the period, named by its latest such task; first_backup_at is its first backup task.",
        "resource_id resource_name resource_type vault_name first_backup_at project_id",
    ),
    relation(
        "backups_by_id",
        "relations/backups_by_id.sql",
        "Backups by backup ID",
        "Each backup ID made by a successful backup task: that task, its resource and when it "
        "finished (ended_at, else updated_at).",
        "backup_id backup_task_id resource_id finished_at",
    ),
    relation(
        "restored_resources",
        "relations/restored_resources.sql",
        "Successful restores by resource",
        "Successful restores finished by the evaluation time, once for each resource they "
        "concern: the restore task's own resource and the resource of the backup it restored.",
        "resource_id id started_at finished_at",
    ),
    relation(
        "adherence_days",
        "relations/adherence_days.sql",
        "Backups per resource and day",
        "One row per evaluated resource and full UTC day of the period, from the day of its "
        "first backup task: the backups created that day by outcome.",
        "resource_id resource_name resource_type vault_name day backups successes failures "
        "success_ids failure_ids",
    ),
    # Defined after the inventory snapshot's relations (lib/reports/inventory.py), which they read.
    relation(
        "snapshot_resources",
        "relations/snapshot_resources.sql",
        "Resources of the inventory snapshot in force",
        "Every resource the snapshot in force lists (as protectable, or in a vault), with its "
        "vault and that vault's backup policy.",
        "project_id snapshot_id snapshot_at resource_id resource_name resource_type status "
        "can_protect code reason vault_id vault_listed vault_name vault_size_gb vault_used_mb "
        "policy_id policy_name policy_enabled max_interval_hours retention_duration_days "
        "max_backups",
    ),
    relation(
        "newest_restore_points",
        "relations/newest_restore_points.sql",
        "Newest restore point of each resource",
        "Per resource of the inventory snapshot in force: its newest available restore point "
        "and when it was made (protected_at, else created_at).",
        "resource_id id made_at",
    ),
    relation(
        "evaluated_resources",
        "relations/evaluated_resources.sql",
        "Resources the controls evaluate",
        "The resources of the operation logs and those of the inventory snapshot in force, "
        "together; from_logs says the operation logs know it.",
        "resource_id resource_name resource_type vault_name first_backup_at project_id from_logs",
    ),
    relation(
        "resource_protection",
        "relations/resource_protection.sql",
        "What the inventory says of each evaluated resource",
        "Per evaluated resource: the snapshot in force of its project, whether it lists the "
        "resource, its vault and backup policy, and why it cannot be judged (unknown) or has no "
        "policy to judge (policy_gap).",
        "resource_id resource_name resource_type vault_name project_id snapshot_id snapshot_at "
        "listed unknown policy_gap can_protect code reason vault_id vault_listed "
        "snapshot_vault_name vault_size_gb vault_used_mb policy_id policy_name policy_enabled "
        "max_interval_hours retention_duration_days max_backups",
    ),
)
COMPOSED_RELATIONS = ("control_list", "resource_compliance")
RELATIONS = tuple(r.name for r in STATIC_RELATIONS) + COMPOSED_RELATIONS  # written in SQL
DATA_RELATIONS = ("operation_log_errors", "discover_state", "proof_spans")  # lake tables, not SQL
# Every relation in the order they can be defined (a relation reads only those before it): the
# inventory snapshot's relations just before the first SQL relation that reads them.
ORDERED_RELATIONS = (
    RELATIONS[: RELATIONS.index("snapshot_resources")]
    + inventory.RELATIONS
    + RELATIONS[RELATIONS.index("snapshot_resources") :]
    + DATA_RELATIONS
)
ORDER = tuple(r.name for r in REPORTS)
# The reports of the inventory alone: `report all` leaves them out while the lake has none.
INVENTORY_REPORTS = ("unprotected", "inventory", "restore-points")


@cache
def all_reports() -> dict[str, Query]:
    """Every report, by its CLI name, in presentation order."""
    return checked(REPORTS)


@cache
def static_relations() -> dict[str, Query]:
    """The relations written as .sql files, by table name."""
    return checked(STATIC_RELATIONS)


def latest_view_sql() -> str:
    return sql_text(LATEST_VIEW)


def get_report(name: str) -> Query:
    try:
        return all_reports()[name]
    except KeyError:
        known = ", ".join(all_reports())
        raise ReportError(f"unknown report {name!r}; choose one of: {known}") from None
