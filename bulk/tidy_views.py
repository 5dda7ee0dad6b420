"""The owner's housekeeping pages of a job: rename it, delete it (after a confirmation)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from bulk import selectors
from bulk.forms import JobNameForm
from bulk.services import tidy
from bulk.services.jobs import JobActionRefused


@require_POST
@login_required
def rename(request: HttpRequest, job_id: int) -> HttpResponse:
    batch_job = get_object_or_404(selectors.jobs_for_user(user=request.user), pk=job_id)
    form = JobNameForm(request.POST)
    if form.is_valid():
        tidy.rename_job(job=batch_job, name=form.cleaned_data["name"], by=request.user)
        messages.success(request, "The job is renamed.")
    else:
        messages.error(request, "A job's name is at most 255 characters.")
    return redirect("bulk:job", job_id=batch_job.pk)


@require_http_methods(["GET", "POST"])
@login_required
def delete(request: HttpRequest, job_id: int) -> HttpResponse:
    batch_job = get_object_or_404(selectors.jobs_for_user(user=request.user), pk=job_id)
    if request.method == "GET":
        return render(request, "bulk/delete.html", {"job": batch_job})
    try:
        tidy.delete_job(job=batch_job, by=request.user)
    except JobActionRefused as refused:
        messages.error(request, str(refused))
        return redirect("bulk:job", job_id=batch_job.pk)
    messages.success(request, f"“{batch_job.title}” is deleted, with its rows and results.")
    return redirect("bulk:jobs")
