from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from bulk import exports, listing, selectors
from bulk.forms import JobFilterForm, MappingForm, RowFilterForm, UploadForm
from bulk.line import load_line
from bulk.line.options import job_options_cost, upload_options_cost
from bulk.models import BatchJob, BatchQuote, StagedUpload
from bulk.services import jobs, uploads
from quotes.selectors import momentum_health, momentum_is_down


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            staged = uploads.stage_upload(
                user=request.user,
                uploaded_file=data["file"],
                file_name=data["file"].name,
                speed_mbps=data["speed_mbps"],
                term_months=data["term_months"],
                notify_email=data["notify_email"],
                reuse_days=data["reuse_days"],
                need_by=data["need_by"],
                options=data["options"],
            )
        except uploads.UploadRejected as rejected:
            form.add_error("file", rejected.message)
        except uploads.UploadRateLimited as limited:
            form.add_error("file", limited.message)
            status = 429
        else:
            return redirect("bulk:preview", upload_id=staged.pk)
    recent = selectors.recent_jobs_for_user(user=request.user)
    return render(request, "bulk/index.html", {"form": form, "jobs": recent}, status=status)


@require_GET
@login_required
def preview(request: HttpRequest, upload_id: UUID) -> HttpResponse:
    staged = get_object_or_404(selectors.staged_uploads_for_user(user=request.user), pk=upload_id)
    gone = staged.is_expired and not staged.is_submitted
    return render(
        request, "bulk/preview.html", _preview_context(staged), status=410 if gone else 200
    )


@require_POST
@login_required
def columns(request: HttpRequest, upload_id: UUID) -> HttpResponse:
    mine = selectors.staged_uploads_for_user(user=request.user, with_content=True)
    staged = get_object_or_404(mine, pk=upload_id)
    form = MappingForm(request.POST, staged=staged)
    if form.is_valid():
        try:
            uploads.remap_upload(
                staged=staged, user=request.user, mapping=form.cleaned_data["mapping"]
            )
        except (uploads.UploadRejected, uploads.SubmitRefused) as refused:
            messages.error(request, refused.message)
        else:
            return redirect("bulk:preview", upload_id=staged.pk)
    return render(request, "bulk/preview.html", _preview_context(staged, form=form), status=400)


def _preview_context(staged: StagedUpload, *, form: MappingForm | None = None) -> dict:
    context = {"staged": staged, "mapping_form": form or MappingForm(staged=staged)}
    # The file's Speed or Term column is read: the preview shows each row's.
    context["own_speed_and_term"] = bool({"speed", "term"} & set(staged.field_columns or {}))
    if staged.status == StagedUpload.Status.READY and staged.valid_count:
        # Rows a recent quote answers at once take no time at Momentum.
        context["reusable"] = selectors.reusable_rows(staged=staged)
        context["estimate"] = selectors.preview_estimate(
            staged=staged, reusable=context["reusable"]
        )
        context["options_cost"] = upload_options_cost(
            load_line(),
            addresses=staged.valid_count,
            options=len(staged.option_list),
            reusable=context["reusable"],
        )
    return context


@require_GET
@login_required
def template_file(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        exports.template_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": content_disposition_header(True, "addresses.xlsx")},
    )


@require_POST
@login_required
def submit(request: HttpRequest, upload_id: UUID) -> HttpResponse:
    staged = get_object_or_404(selectors.staged_uploads_for_user(user=request.user), pk=upload_id)
    try:
        job = uploads.submit_staged_upload(staged=staged, user=request.user)
    except uploads.SubmitRefused as refused:
        messages.error(request, refused.message)
        return redirect("bulk:preview", upload_id=staged.pk)
    return redirect("bulk:job", job_id=job.pk)


@require_GET
@login_required
def invalid_rows(request: HttpRequest, upload_id: UUID) -> HttpResponse:
    mine = selectors.staged_uploads_for_user(user=request.user, with_rows=True)
    staged = get_object_or_404(mine, pk=upload_id)
    if staged.is_expired or staged.status != StagedUpload.Status.READY:
        messages.error(request, "The invalid rows of this upload are no longer available.")
        return redirect("bulk:preview", upload_id=staged.pk)
    # The BOM tells Excel the file is UTF-8.
    body = "\ufeff" + exports.invalid_rows_csv(staged=staged)
    name = exports.invalid_rows_file_name(staged=staged)
    return HttpResponse(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, name)},
    )


@require_GET
@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    form = JobFilterForm(request.GET)
    status, page = form.filters()
    health = _health()
    jobs = listing.jobs_page(user=request.user, status=status, query=form.query(), page=page)
    context = {
        "page": jobs,
        "time_left": selectors.jobs_time_left(jobs=jobs, health=health["health"]),
        "status": status,
        "query": form.query(),
        "status_choices": BatchJob.Status.choices,
        **health,
    }
    return render(request, "bulk/jobs.html", context)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def job(request: HttpRequest, job_id: int) -> HttpResponse:
    batch_job = get_object_or_404(selectors.jobs_for_user(user=request.user), pk=job_id)
    live = selectors.job_is_live(job=batch_job)
    if request.htmx and not live:
        return HttpResponseClientRefresh()  # it ended: show the whole page, once, no polling
    status, page = RowFilterForm(request.GET).filters()
    context = _job_context(batch_job, status=status) | {"live": live}
    # The fragment resends the rows table only when a row changed status.
    context["send_rows"] = not request.htmx or request.GET.get("seen") != context["marker"]
    if context["send_rows"]:
        context["rows"] = selectors.rows_page(
            job=batch_job, counts=context["progress"].counts, status=status, page=page
        )
    if request.htmx:
        return render(request, "bulk/job.html#progress", context)
    if not live:
        context["summary"] = selectors.job_summary(job=batch_job)
    context["source"] = listing.job_source(job=batch_job)
    if context["source"] and context["source"].skipped_count:
        context["skipped"] = listing.skipped_rows(job=batch_job)
    return render(request, "bulk/job.html", context)


def _job_context(batch_job: BatchJob, *, status: str | None) -> dict:
    health = _health()
    progress = selectors.job_progress(job=batch_job, health=health["health"])
    return {
        "job": batch_job,
        "progress": progress,
        "status": status,
        "status_choices": [
            (value, label, progress.counts[value]) for value, label in BatchQuote.Status.choices
        ],
        "marker": selectors.live_marker(job=batch_job),
        "options_cost": (
            job_options_cost(load_line(health=health["health"]), job=batch_job)
            if batch_job.options and not batch_job.is_finished
            else None
        ),
        **health,
    }


def _health() -> dict:
    health = momentum_health()
    return {"health": health, "momentum_down": momentum_is_down(health)}


JOB_ACTIONS = {
    "cancel": (
        jobs.cancel_job,
        "The job is cancelled. The address being quoted now still gets its price.",
    ),
    "resume": (jobs.resume_job, "The job is back in line."),
    "retry": (jobs.retry_failed_rows, "The failed rows are back in line."),
}


@require_POST
@login_required
def job_action(request: HttpRequest, job_id: int, action: str) -> HttpResponse:
    batch_job = get_object_or_404(selectors.jobs_for_user(user=request.user), pk=job_id)
    service, done = JOB_ACTIONS[action]
    try:
        service(job=batch_job, by=request.user)
    except jobs.JobActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, done)
    return redirect("bulk:job", job_id=batch_job.pk)


@require_GET
@login_required
def export(request: HttpRequest, job_id: int, fmt: str) -> HttpResponse:
    batch_job = get_object_or_404(selectors.jobs_for_user(user=request.user), pk=job_id)
    failed_only = request.GET.get("rows") == "failed"
    return exports.download_response(job=batch_job, fmt=fmt, failed_only=failed_only)
