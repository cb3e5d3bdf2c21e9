"""The base class of every connector task: process-wide services and one transaction per task."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from celery import Task
from sqlalchemy.orm import Session

from connector.config import load_settings
from connector.db import session_scope
from connector.services.context import Services
from connector.services.processing import process

_services: Services | None = None


def services() -> Services:
    global _services
    if _services is None:
        _services = Services(load_settings())
    return _services


class ConnectorTask(Task):
    abstract = True

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(services().settings.database_url) as session:
            yield session

    def process_inbox(self, inbox_id: int) -> None:
        with self.session() as session:
            retry = process(services(), session, inbox_id)
        if retry is not None:
            raise self.retry(countdown=retry.countdown, max_retries=None)
