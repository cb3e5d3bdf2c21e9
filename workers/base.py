"""The base class of every connector task: process-wide services and one transaction per task."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

from celery import Task
from sqlalchemy.orm import Session

from connector.config import load_settings
from connector.db import session_scope
from connector.services.context import Services
from connector.services.processing import Runner, process

_services: Services | None = None
_services_lock = threading.Lock()


def services() -> Services:
    """The process's services, made once even when a pool's threads start together."""
    global _services
    with _services_lock:
        if _services is None:
            _services = Services(load_settings())
        return _services


class ConnectorTask(Task):
    abstract = True
    # Attempts are counted and capped by the inbox (MLC_MAX_ATTEMPTS), not by Celery: with its
    # default of 3 a busy object's fourth retry would fail the message and wait for the sweeper.
    max_retries = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(services().settings.database_url) as session:
            yield session

    def process_inbox(self, inbox_id: int) -> None:
        runner = Runner(task_id=self.request.id or "", worker=f"{self.request.hostname or '?'}:{os.getpid()}")
        with self.session() as session:
            retry = process(services(), session, inbox_id, runner)
        if retry is not None:
            self.again(retry.countdown)

    def again(self, countdown: float) -> None:
        """Send this task again in ``countdown`` seconds and end this run.

        The inbox row already says why and when (``processing.RetryLater``), so the run ends as
        done rather than raising Celery's ``Retry``: the message Celery sends is the same (its
        ``retry`` with ``throw=False``), but a raised ``Retry`` makes the worker capture the
        traceback of every frame, each with its code positions, and log it; that was about 7 % of
        a busy worker's CPU, spent on a wait for another worker's lock (BENCHMARKS.md, "Worker CPU
        per order"). Run eagerly (``apply``), nothing is sent, and it raises as before.
        """
        retry = self.retry(countdown=countdown, throw=False)
        if self.request.is_eager:
            raise retry
