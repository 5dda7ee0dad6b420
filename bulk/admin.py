from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html

from bulk.models import BatchJob, BatchJobEvent, BatchQuote
from bulk.services import jobs, staff
from quotes.admin import FREE_SLOT_ACTION, free_slot_confirmation

INLINE_ROWS = 50
FREE_SLOT_WARNING = (
    "This frees Momentum's one-in-flight slot held by the selected jobs' quotes WITHOUT "
    "Momentum's answer: those quotes end as unavailable, with every row waiting on them "
    "(other users' jobs too), and the next quote is submitted while Momentum may still be "
    "pricing these, so two quotes may be in flight at Momentum. Force-finish and requeue "
    "never do this. Recorded on each job."
)


class FirstRowsFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet:
        # A job may have 20,000 rows; the page shows the first ones and links to the rest.
        return super().get_queryset()[:INLINE_ROWS]


class BatchQuoteInline(admin.TabularInline):
    model = BatchQuote
    formset = FirstRowsFormSet
    fields = [
        "row_number",
        "street_address",
        "city",
        "state",
        "zip_code",
        "status",
        "error_message",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"Rows (the first {INLINE_ROWS}; all of them under “Batch quotes”)"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class BatchJobEventInline(admin.TabularInline):
    model = BatchJobEvent
    fields = ["created_at", "action", "actor", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(BatchJob)
class BatchJobAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "file_name",
        "user",
        "status",
        "progress",
        "total_count",
        "success_count",
        "failed_count",
        "cancelled_count",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", ("user", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["file_name", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    raw_id_fields = ["user"]
    inlines = [BatchJobEventInline, BatchQuoteInline]
    readonly_fields = [
        "status",
        "total_count",
        "processed_count",
        "success_count",
        "failed_count",
        "cancelled_count",
        "current_index",
        "started_at",
        "finished_at",
        "last_served_at",
        "notified_at",
        "notification_sent_at",
        "rows_link",
    ]
    actions = [
        "cancel_jobs",
        "resume_jobs",
        "retry_failed_rows",
        "retry_all_failed_rows",
        "requeue_stuck_rows",
        "force_finish_jobs",
        "free_momentum_slot",
        "resend_email",
    ]

    @admin.display(description="Progress")
    def progress(self, job: BatchJob) -> str:
        return f"{job.percent_done}%"

    @admin.display(description="All rows")
    def rows_link(self, job: BatchJob) -> str:
        url = reverse("admin:bulk_batchquote_changelist") + f"?batch_job__id__exact={job.pk}"
        return format_html('<a href="{}">All {} rows</a>', url, job.total_count)

    # Who, what and how: fixed once the job has started (its rows are quoted with them).
    SETTLED_FIELDS = [
        "user",
        "file_name",
        "source_columns",
        "notify_email",
        "speed_mbps",
        "term_months",
        "error_message",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Jobs come from uploads (the portal, the API, `manage.py submit_batch`).
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: BatchJob | None = None) -> list:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and (obj.started_at is not None or obj.is_finished):
            fields += [name for name in self.SETTLED_FIELDS if name not in fields]
        return fields

    def _act(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        action,
        *,
        verb: str,
        rows: str,
        changed,
    ) -> None:
        """Run a job action on each selected job; say how many jobs and rows it changed.

        `changed(before, after, result)` counts the rows the action changed on one job.
        """
        jobs_done = rows_changed = 0
        for job in queryset.select_related("user"):
            before = BatchJob.objects.get(pk=job.pk)
            try:
                result = action(job=job, by=request.user)
            except jobs.JobActionRefused as refused:
                self.message_user(request, f"Job {job.pk}: {refused}", messages.WARNING)
                continue
            after = BatchJob.objects.get(pk=job.pk)
            count = changed(before, after, result)
            jobs_done += 1
            rows_changed += count
            self.log_change(request, job, f"{verb}: {count} {rows} (admin action)")
        if jobs_done:
            self.message_user(
                request,
                f"{verb}: {rows_changed} {rows} in {jobs_done} job{pluralize(jobs_done)}.",
                messages.SUCCESS if rows_changed else messages.INFO,
            )

    @admin.action(description="Cancel the selected jobs (the owner is emailed)")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            jobs.cancel_job,
            verb="Cancelled",
            rows="rows not yet quoted",
            changed=lambda before, after, _: after.cancelled_count - before.cancelled_count,
        )

    @admin.action(description="Resume the selected cancelled jobs")
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            jobs.resume_job,
            verb="Resumed",
            rows="rows back in line",
            changed=lambda before, after, _: before.cancelled_count - after.cancelled_count,
        )

    @admin.action(description="Retry the failed rows a retry can change (timed out, unavailable)")
    def retry_failed_rows(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            jobs.retry_failed_rows,
            verb="Retried",
            rows="failed rows",
            changed=lambda before, after, _: before.failed_count - after.failed_count,
        )

    @admin.action(description="Retry every failed row, including ones Momentum rejected")
    def retry_all_failed_rows(self, request: HttpRequest, queryset: QuerySet) -> None:
        def retry_all(*, job: BatchJob, by) -> BatchJob:
            return jobs.retry_failed_rows(job=job, by=by, include_permanent=True)

        self._act(
            request,
            queryset,
            retry_all,
            verb="Retried",
            rows="failed rows",
            changed=lambda before, after, _: before.failed_count - after.failed_count,
        )

    @admin.action(description="Requeue stuck rows (processing with no live quote)")
    def requeue_stuck_rows(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            staff.requeue_stuck_rows,
            verb="Requeued",
            rows="stuck rows",
            changed=lambda before, after, requeued: requeued,
        )

    @admin.action(description="Force-finish the selected jobs (open rows are cancelled)")
    def force_finish_jobs(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._act(
            request,
            queryset,
            staff.force_finish_job,
            verb="Force-finished",
            rows="open rows cancelled",
            changed=lambda before, after, _: after.cancelled_count - before.cancelled_count,
        )

    @admin.action(description=FREE_SLOT_ACTION)
    def free_momentum_slot(self, request: HttpRequest, queryset: QuerySet):
        """Only after staff confirm a page that says what it does (staff.free_momentum_slot)."""
        if request.POST.get("confirm") != "yes":
            return free_slot_confirmation(self, request, queryset, FREE_SLOT_WARNING)
        self._act(
            request,
            queryset,
            staff.free_momentum_slot,
            verb="Freed Momentum's slot",
            rows="quotes",
            changed=lambda before, after, freed: freed,
        )
        return None

    @admin.action(description="Resend the completion email")
    def resend_email(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for job in queryset:
            try:
                staff.resend_job_email(job=job, by=request.user)
            except jobs.JobActionRefused as refused:
                self.message_user(request, f"Job {job.pk}: {refused}", messages.WARNING)
            else:
                done += 1
                self.log_change(request, job, "Email resent (admin action)")
        if done:
            self.message_user(
                request, f"Email queued again for {done} job{pluralize(done)}.", messages.SUCCESS
            )


@admin.register(BatchQuote)
class BatchQuoteAdmin(admin.ModelAdmin):
    list_display = [
        "batch_job",
        "row_number",
        "street_address",
        "city",
        "state",
        "zip_code",
        "status",
        "attempts",
        "error_message",
    ]
    list_filter = ["status", "batch_job__status"]
    search_fields = ["street_address", "city", "zip_code", "batch_job__file_name"]
    list_select_related = ["batch_job"]
    raw_id_fields = ["batch_job", "quote"]
    readonly_fields = ["status", "failure", "attempts", "started_at", "finished_at", "quote"]
