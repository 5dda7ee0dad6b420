"""A bare Celery chain of the engine's shape, for benchmarks/pipeline.py to compare with.

Per row: `submit | poll | record`, each a no-op task on one `-c 1` worker, and the last
step starts the next row's chain, exactly as the engine does; no database, no HTTP.
"""

import os
from pathlib import Path

from celery import Celery, chain

app = Celery("bare_chain")
app.conf.update(
    broker_url=os.environ.get("REDIS_URL") or "filesystem://",
    broker_transport=None if os.environ.get("REDIS_URL") else "config.broker:Transport",
    broker_transport_options=(
        {}
        if os.environ.get("REDIS_URL")
        else {
            "data_folder_in": os.environ["BARE_BROKER_DIR"],
            "data_folder_out": os.environ["BARE_BROKER_DIR"],
            "control_folder": os.environ["BARE_BROKER_DIR"],
            "store_processed": False,
            "polling_interval": 0.1,
        }
    ),
    accept_content=["json"],
    task_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_default_queue="bare",
)


def row_chain(row: int, rows: int, marker: str):
    return chain(submit.si(row), poll.si(row), record.s(row, rows, marker))


@app.task
def submit(row: int) -> None:
    return None


@app.task
def poll(row: int) -> dict:
    return {"row": row, "status": "complete"}


@app.task
def record(outcome: dict, row: int, rows: int, marker: str) -> None:
    if row + 1 < rows:
        row_chain(row + 1, rows, marker).apply_async()
    else:
        Path(marker).write_text("done")
