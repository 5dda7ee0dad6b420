import hmac
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from health_check.views import HealthCheckView
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bulk.models import BatchJob
from bulk.services import staff
from bulk.services.jobs import JobActionRefused
from config import outbox
from momentum.accounts import account_named
from ops import metrics, selectors
from quotes.models import MomentumHealth
from quotes.services import health


def staff_only(view):
    """Staff see the page; everyone else (signed in or not) gets a plain 404."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not (request.user.is_authenticated and request.user.is_active and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


# --- Health -----------------------------------------------------------------------------


@require_GET
@never_cache
def live(request: HttpRequest) -> HttpResponse:
    """The process answers (no database, no broker: a restart would not help them)."""
    return JsonResponse({"status": "ok"})


class ReadyView(HealthCheckView):
    """Database, cache and broker reachable: 200; otherwise 503. Momentum is reported."""

    # Four quick checks: no threads (each would open its own database connection).
    use_threading = False
    checks = (
        "ops.health.DatabaseReady",
        "ops.health.CacheReady",
        "ops.health.BrokerReady",
        "ops.health.MomentumState",
    )

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503
        return response


ready = ReadyView.as_view()


# --- Metrics ----------------------------------------------------------------------------


def _token_ok(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@require_GET
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not (_token_ok(request) or (request.user.is_authenticated and request.user.is_staff)):
        response = HttpResponse("Sign in as staff or send the bearer token.", status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)


# --- The queue page ---------------------------------------------------------------------


@require_GET
@staff_only
@vary_on_headers("HX-Request")
def queue(request: HttpRequest) -> HttpResponse:
    context = {"line": selectors.line_view(), "now": timezone.now(), "outbox": settings.DEBUG}
    if request.htmx:
        return render(request, "ops/queue.html#line", context)
    return render(request, "ops/queue.html", context)


JOB_ACTIONS = {
    "pause": (staff.pause_job, "Job {pk} paused; its owner was told."),
    "unpause": (staff.unpause_job, "Job {pk} is back in line; its owner was told."),
    "front": (staff.move_job_to_front, "Job {pk} moved to the front of the line."),
    "back": (staff.move_job_to_back, "Job {pk} moved to the back of the line."),
}


@require_POST
@staff_only
def job_action(request: HttpRequest, job_id: int, action: str) -> HttpResponse:
    if action not in JOB_ACTIONS:
        raise Http404
    service, done = JOB_ACTIONS[action]
    job = get_object_or_404(BatchJob, pk=job_id)
    try:
        service(job=job, by=request.user)
    except JobActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done.format(pk=job.pk))
    return redirect("ops:queue")


ACCOUNT_ACTIONS = {
    "pause": (MomentumHealth.StaffState.PAUSED, "Account {name} paused: no new quotes."),
    "drain": (
        MomentumHealth.StaffState.DRAINING,
        "Account {name} is draining: no new quotes; remove it once it holds none.",
    ),
    "resume": (MomentumHealth.StaffState.ACTIVE, "Account {name} takes new quotes again."),
}


@require_POST
@staff_only
def account_action(request: HttpRequest, name: str, action: str) -> HttpResponse:
    """Pause, drain or resume a Momentum account; it takes effect at the next submit."""
    if action not in ACCOUNT_ACTIONS or account_named(name) is None:
        raise Http404
    state, done = ACCOUNT_ACTIONS[action]
    health.set_staff_state(name, state=state)
    messages.success(request, done.format(name=name))
    return redirect("ops:queue")


# --- The demo's outbox --------------------------------------------------------------------


@staff_only
@require_GET
def outbox_list(request: HttpRequest) -> HttpResponse:
    """The emails the demo sent (config.outbox), newest first; only with DEBUG on."""
    if not settings.DEBUG:
        raise Http404
    return render(request, "ops/outbox.html", {"messages_kept": outbox.kept_messages()})


@staff_only
@require_GET
def outbox_message(request: HttpRequest, name: str) -> HttpResponse:
    if not settings.DEBUG:
        raise Http404
    kept = outbox.read_message(name)
    if kept is None:
        raise Http404
    return render(request, "ops/outbox_message.html", {"kept": kept})
