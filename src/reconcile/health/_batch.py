"""Jobs and CronJobs."""

from __future__ import annotations

from reconcile.health._status import field, items, section, text
from reconcile.model import Health, HealthStatus, Manifest


def job(obj: Manifest) -> Health:
    """A Job: Progressing until it completes, fails or is suspended."""
    failed = complete = suspended = False
    message = fail_message = ""
    for entry in items(section(obj, "status").get("conditions")):
        kind = entry.get("type")
        if kind == "Failed":
            failed = complete = True
            fail_message = text(entry.get("message"))
        elif kind == "Complete":
            complete = True
            message = text(entry.get("message"))
        elif kind == "Suspended":
            complete = True
            message = text(entry.get("message"))
            suspended = suspended or entry.get("status") == "True"
    if not complete:
        return Health(HealthStatus.PROGRESSING, message)
    if failed:
        return Health(HealthStatus.DEGRADED, fail_message)
    if suspended:
        # Shown Suspended, but a suspended Job does not drag its application's health down.
        return Health(HealthStatus.SUSPENDED, message, aggregate_as=HealthStatus.HEALTHY)
    return Health(HealthStatus.HEALTHY, message)


def cron_job(obj: Manifest) -> Health:  # noqa: PLR0911 - one per verdict of the reference
    """A CronJob, judged from its schedule times as Argo CD's bundled script does."""
    if field(obj, "spec", "suspend") is True:
        return Health(HealthStatus.SUSPENDED, "CronJob is Suspended")
    status = field(obj, "status")
    if not isinstance(status, dict):
        return Health(HealthStatus.PROGRESSING, "Waiting for CronJob")
    scheduled = status.get("lastScheduleTime")
    if scheduled is None:
        # Status cannot tell a missed schedule from one not due yet.
        return Health(HealthStatus.HEALTHY, "CronJob has not been scheduled yet")
    succeeded = status.get("lastSuccessfulTime")
    if succeeded is None:
        return Health(HealthStatus.HEALTHY, "The Cronjob never completed succesfully. It may not be healthy")
    active = status.get("active")
    if isinstance(active, list) and active:
        return Health(HealthStatus.HEALTHY, "The job is running. Its last execution may not have been successful")
    # RFC 3339 times in UTC compare correctly as strings, as the reference compares them.
    if str(succeeded) < str(scheduled):
        return Health(HealthStatus.DEGRADED, "CronJob has not completed its last execution successfully")
    return Health(HealthStatus.HEALTHY, "CronJob has completed its last execution successfully")
