"""The audit controls, declared: each a `.sql` file in sql/controls and a `control(...)` below.

A control gives, for every resource the controls evaluate (sql/relations/resources.sql), one row
in CONTROL_COLUMNS: control, resource, status (COMPLIANT, NON_COMPLIANT or INSUFFICIENT_DATA), a
one-line reason and the evidence (task IDs; for the inventory controls the snapshot ID and the
vault, policy or backup IDs). Its parameters are declared here and in lib/reports/parameters.py
(the default, unit and maximum); its description names each one as `{token}`. The order here is
the order controls are evaluated and shown in. The inventory controls judge by the inventory
snapshot in force; a lake without any inventory evaluates only the others unless they are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from lib.reports.declaration import Query, ReportError, checked, control

CONTROLS: tuple[Query, ...] = (
    control(
        "backup-within-rpo",
        "controls/backup_within_rpo.sql",
        "Latest backup within the RPO",
        "The resource's latest successful backup finished (ended_at, else updated_at) at most "
        "{rpo_hours} h before the evaluation time.",
        ("rpo_hours",),
    ),
    control(
        "daily-adherence",
        "controls/daily_adherence.sql",
        "A successful backup every day",
        "At least one successful backup on each full UTC day of the period from the resource's "
        "first backup task on, on at least {adherence_pct} % of those days.",
        ("adherence_pct",),
    ),
    control(
        "app-consistency",
        "controls/app_consistency.sql",
        "Application-consistent backups succeed",
        "The resource's latest backup in the period that asked for application consistency (it "
        "carries an application-consistency status or error) has no application-consistency "
        "error.",
    ),
    control(
        "cross-region-copy",
        "controls/cross_region_copy.sql",
        "Backups are copied to another region",
        "The resource's latest successful backup older than {copy_within_hours} h is the source "
        "of a successful replication finished by the evaluation time.",
        ("copy_within_hours",),
    ),
    control(
        "restore-tested",
        "controls/restore_tested.sql",
        "Restores are tested",
        "A successful restore of the resource (by its resource ID, or of one of its backups) "
        "finished at most {restore_test_days} d before the evaluation time.",
        ("restore_test_days",),
    ),
    control(
        "restore-time",
        "controls/restore_time.sql",
        "Restores meet the time target",
        "The resource's latest successful restore took at most {max_restore_minutes} min "
        "(ended_at, else updated_at, minus started_at, else created_at).",
        ("max_restore_minutes",),
    ),
    control(
        "min-retention",
        "controls/min_retention.sql",
        "Backups are kept a minimum time",
        "No successful delete task in the period removed a backup of the resource younger than "
        "{min_retention_days} d (age: the delete's end minus the backup's end).",
        ("min_retention_days",),
    ),
    control(
        "no-stuck-tasks",
        "controls/no_stuck_tasks.sql",
        "No task is stuck",
        "No task of the resource was still running or waiting at the evaluation time more than "
        "{stuck_hours} h after it was created.",
        ("stuck_hours",),
    ),
    control(
        "resource-protected",
        "controls/resource_protected.sql",
        "Resources are in a vault",
        "The inventory snapshot in force puts the resource in a vault (its protectable entry "
        "names one, or a vault lists it).",
    ),
    control(
        "policy-assigned",
        "controls/policy_assigned.sql",
        "Vaults have an enabled backup policy",
        "The resource's vault is bound to an enabled backup policy in the inventory snapshot in "
        "force.",
    ),
    control(
        "policy-frequency",
        "controls/policy_frequency.sql",
        "Backups are scheduled often enough",
        "The backup policy of the resource's vault is enabled and leaves at most "
        "{max_backup_interval_hours} h between two scheduled backups (a schedule that cannot be "
        "read is not enough data, never a guess).",
        ("max_backup_interval_hours",),
    ),
    control(
        "policy-retention",
        "controls/policy_retention.sql",
        "Backups are kept long enough",
        "The backup policy of the resource's vault keeps each backup at least "
        "{policy_retention_days} d (retention days; no limit at all; or the number of backups "
        "kept times the longest gap between two).",
        ("policy_retention_days",),
    ),
    control(
        "restore-point-fresh",
        "controls/restore_point_fresh.sql",
        "A recent restore point exists",
        "The resource's newest available restore point in the inventory snapshot in force was "
        "made (protected_at, else created_at) at most {rpo_hours} h before the snapshot.",
        ("rpo_hours",),
    ),
    control(
        "vault-capacity",
        "controls/vault_capacity.sql",
        "Vaults have room",
        "The resource's vault uses less than {vault_usage_pct} % of its size in the inventory "
        "snapshot in force.",
        ("vault_usage_pct",),
    ),
)
CONTROL_ORDER = tuple(c.name for c in CONTROLS)
INVENTORY_CONTROLS = (
    "resource-protected",
    "policy-assigned",
    "policy-frequency",
    "policy-retention",
    "restore-point-fresh",
    "vault-capacity",
)


@cache
def all_controls() -> dict[str, Query]:
    return checked(CONTROLS)


def choose(names: Sequence[str] | None, inventory: bool = True) -> tuple[str, ...]:
    """The controls to evaluate, in their declared order; None means all of them (without the
    inventory controls when the lake has no inventory)."""
    if names is None:
        return tuple(c for c in CONTROL_ORDER if inventory or c not in INVENTORY_CONTROLS)
    wanted = [name.strip() for name in names if name.strip()]
    unknown = sorted(set(wanted) - set(CONTROL_ORDER))
    if unknown or not wanted:
        raise ReportError(
            f"unknown control(s) {', '.join(unknown) or '(none named)'}; "
            f"choose from: {', '.join(CONTROL_ORDER)}"
        )
    return tuple(name for name in CONTROL_ORDER if name in wanted)
