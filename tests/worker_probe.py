"""Loaded by every worker of the test suite (CELERY_IMPORTS in tests/settings.py): when
ENGINE_PROBE_DIR is set, a file in that folder stands for each task a worker holds, from
its receipt (a countdown's wait included) to the end of its run, so the harness can tell
that shared workers are idle (tests/shared_workers.py). Without the variable it does nothing.
"""

import os
from pathlib import Path

from celery.signals import task_postrun, task_received, task_revoked

_FOLDER = os.environ.get("ENGINE_PROBE_DIR", "")


def _path(task_id: str, retries: int | None) -> Path:
    # A retry carries the same task id: its number tells its delivery from the one before.
    return Path(_FOLDER) / f"{task_id}-{retries or 0}"


@task_received.connect
def _held(request, **kwargs) -> None:
    if _FOLDER:
        _path(request.id, request.request_dict.get("retries")).touch()


@task_postrun.connect
def _done(task_id, task, **kwargs) -> None:
    if _FOLDER:
        _path(task_id, task.request.retries).unlink(missing_ok=True)


@task_revoked.connect
def _revoked(request, **kwargs) -> None:
    if _FOLDER:
        _path(request.id, request.request_dict.get("retries")).unlink(missing_ok=True)
