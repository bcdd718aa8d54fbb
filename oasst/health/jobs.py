from __future__ import annotations

from celery import shared_task

from oasst.health.checks import record_heartbeat


@shared_task(name="oasst.health.jobs.heartbeat", ignore_result=False)
def heartbeat() -> str:
    """Scheduled by beat; that it runs proves both beat and a worker are alive."""
    return record_heartbeat("worker").isoformat()
