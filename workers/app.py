"""The Celery application: broker, routing, reliability settings and the beat schedule.

Tasks acknowledge late and are re-queued if their worker dies, because every task's effect is
guarded by the database (inbox state, binding state, unique keys). Retry countdowns stay far below
the Redis visibility timeout; anything longer waits in the database for the beat sweeper.
"""
from __future__ import annotations

import threading

from celery import Celery, signals
from kombu import Queue

from connector import logs
from connector.config import load_settings
from connector.flows import JOBS, LANES, QUEUES, task_table
from workers import broker, flower_guard

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


#: The message header that carries the sender's log correlation (``connector.logs.carried``).
CORRELATION_HEADER = "mlc_correlation"


@signals.setup_logging.connect
def _configure_logging(loglevel=None, **_):
    """Workers and beat log as every process does (``MLC_LOG_FORMAT``, masked, correlated):
    with a receiver of this signal Celery leaves logging alone, its own lines (a task received,
    succeeded, retried, failed) included, and does not redirect stdout."""
    logs.configure_logging(loglevel or settings.log_level, settings.log_format)


@signals.celeryd_init.connect
def _consume_through_one_client(conf=None, **_):
    """A worker consumes through ``workers.broker`` (one Redis client per channel). Set when a
    worker starts, not for the whole app: Flower tells the broker's kind by its URL's scheme."""
    transport = broker.transport_for(conf.broker_url or "")
    if transport:
        conf.broker_transport = transport


# A task's correlation: bound before it runs and unbound after, in the thread that runs it.
# Celery logs the task's success or failure before task_postrun, so those lines carry it too.
_bound = threading.local()


@signals.task_prerun.connect
def _bind_correlation(task_id=None, task=None, **_):
    request = task.request if task is not None else None
    # a worker's message headers are attributes of the request; an eager apply(headers=…) keeps them apart
    carried = getattr(request, CORRELATION_HEADER, None) or (getattr(request, "headers", None) or {}).get(
        CORRELATION_HEADER)
    fields = {key: value for key, value in carried.items() if key in logs.CARRIED} if isinstance(carried, dict) else {}
    scope = logs.bind(**fields, task_id=task_id, task=getattr(task, "name", None))
    scope.__enter__()
    if not hasattr(_bound, "scopes"):
        _bound.scopes = []
    _bound.scopes.append(scope)


@signals.task_postrun.connect
def _unbind_correlation(**_):
    scopes = getattr(_bound, "scopes", None)
    if scopes:
        scopes.pop().__exit__(None, None, None)


# `celery -A workers.app flower` refuses to start Flower without a login (workers/flower_guard.py),
# and logs as the other processes do
flower_guard.install(prepare=lambda: logs.configure_logging(settings.log_level, settings.log_format))
