"""Job, row, quote and upload ids on log records (for LOG_FORMAT=json).

Celery tasks bind the ids they were given (`quote_id`, `job_id`, `row_id`, `staged_id`)
for the time they run; web requests bind the ids in their URL. `ContextFilter`, on the
console handler, copies them onto every record, and the JSON formatter prints them.
"""

from __future__ import annotations

import inspect
import logging
from contextvars import ContextVar

_ids: ContextVar[dict | None] = ContextVar("log_ids", default=None)

# Argument or URL names, and the field each gives in the logs.
ID_NAMES = {
    "quote_id": "quote_id",
    "job_id": "job_id",
    "row_id": "row_id",
    "staged_id": "upload_id",
    "upload_id": "upload_id",
}


def bind(**ids) -> None:
    """Add ids to this context's log records."""
    current = dict(_ids.get() or {})
    current.update({k: v for k, v in ids.items() if v is not None})
    _ids.set(current)


def clear() -> None:
    _ids.set(None)


def current() -> dict:
    return dict(_ids.get() or {})


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_ids.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def ids_from(names_and_values: dict) -> dict:
    return {
        ID_NAMES[name]: str(value)
        for name, value in names_and_values.items()
        if name in ID_NAMES and value is not None
    }


def _bind_task(sender=None, args=None, kwargs=None, **_) -> None:
    clear()
    try:
        bound = inspect.signature(sender.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError, AttributeError):
        return
    ids = ids_from(bound.arguments)
    if "quote_id" in ids and "row_id" not in ids:
        ids.update(_row_of_quote(ids["quote_id"]))
    bind(**ids)


def _row_of_quote(quote_id: str) -> dict:
    """The bulk row and job of a quote (one indexed query, only for JSON logs)."""
    from django.conf import settings

    if getattr(settings, "LOG_FORMAT", "text") != "json":
        return {}
    from bulk.models import BatchQuote

    row = BatchQuote.objects.filter(quote_id=quote_id).values_list("pk", "batch_job_id").first()
    return {"row_id": str(row[0]), "job_id": str(row[1])} if row else {}


def _clear_task(**_) -> None:
    clear()


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_bind_task, weak=False, dispatch_uid="ops-log-ids-bind")
    task_postrun.connect(_clear_task, weak=False, dispatch_uid="ops-log-ids-clear")


class RequestIdsMiddleware:
    """Bind the ids in a request's URL (`job_id`, `upload_id`, ...) for its log records."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        clear()
        try:
            return self.get_response(request)
        finally:
            clear()

    def process_view(self, request, view_func, view_args, view_kwargs):
        bind(**ids_from(view_kwargs))
        return None
