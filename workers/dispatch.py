"""Sending work to the right pool: topic → queue → ``mlc.<queue>.process_webhook``."""
from __future__ import annotations

from connector.topics import queue_for
from workers.app import app


def task_name(queue: str) -> str:
    return f"mlc.{queue}.process_webhook"


def enqueue(inbox_id: int, topic: str) -> bool:
    queue = queue_for(topic)
    if queue is None:
        return False
    app.send_task(task_name(queue), args=[inbox_id], queue=queue)
    return True
