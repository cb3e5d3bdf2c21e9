"""The Celery application: broker, routing, reliability settings and the beat schedule.

Tasks acknowledge late and are re-queued if their worker dies, because every task's effect is
guarded by the database (inbox state, binding state, unique keys). Retry countdowns stay far below
the Redis visibility timeout; anything longer waits in the database for the beat sweeper.
"""
from __future__ import annotations

from celery import Celery, signals
from kombu import Queue

from connector.config import load_settings
from connector.flows import JOBS, LANES, QUEUES, task_table
from connector.redact import RedactingFilter
from workers import flower_guard

settings = load_settings()


def _schedule(job) -> dict:
    interval = float(getattr(settings, job.interval_setting))
    # a run that could not start in time is worthless: the next one does the same job
    return {"task": job.task, "schedule": interval, "options": {"queue": job.queue, "expires": interval}}


VISIBILITY_TIMEOUT = 3600
app = Celery("mlc", include=["workers.tasks"])
app.conf.update(
    broker_url=settings.redis_url,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT, "priority_steps": list(LANES)},
    # each worker consumes one queue: the order between queues (queue_order_strategy) does not
    # matter and stays round robin; a queue's first lane is always asked before its backlog lane
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_time_limit=settings.task_time_limit_seconds,
    task_soft_time_limit=int(settings.task_time_limit_seconds * 0.9),
    worker_prefetch_multiplier=1,
    # after a broker reconnect, unacked tasks are redelivered: stop the local copy of each
    worker_cancel_long_running_tasks_on_connection_loss=True,
    worker_hijack_root_logger=False,
    task_queues=[Queue(name) for name in QUEUES],
    task_default_queue="fusion_poll",
    task_create_missing_queues=False,
    task_routes={task: {"queue": queue} for task, queue, _, _ in task_table()},
    timezone="UTC",
    enable_utc=True,
    beat_scheduler="redbeat.RedBeatScheduler",  # RedBeat uses broker_url (kept masked in Flower)
    redbeat_key_prefix="mlc:redbeat",
    redbeat_lock_timeout=max(60, settings.inbox_sweep_interval_seconds * 5),
    beat_max_loop_interval=min(5, settings.inbox_sweep_interval_seconds),
    beat_schedule={job.name: _schedule(job) for job in JOBS},
)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_worker_logs(logger, **_):
    for handler in logger.handlers:
        handler.addFilter(RedactingFilter())


# `celery -A workers.app flower` refuses to start Flower without a login (workers/flower_guard.py)
flower_guard.install()
