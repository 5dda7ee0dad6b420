from django.urls import path, re_path, register_converter

from bulk import tidy_views, views


class JobIdConverter:
    """A job id the database can hold (at most 18 digits): a longer one is a 404, not an
    integer overflow in the query."""

    regex = r"[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(JobIdConverter, "job_id")

app_name = "bulk"

urlpatterns = [
    path("", views.index, name="index"),
    path("uploads/<uuid:upload_id>/", views.preview, name="preview"),
    path("uploads/<uuid:upload_id>/columns/", views.columns, name="columns"),
    path("uploads/<uuid:upload_id>/submit/", views.submit, name="submit"),
    path("template.xlsx", views.template_file, name="template"),
    path("uploads/<uuid:upload_id>/invalid-rows.csv", views.invalid_rows, name="invalid_rows"),
    path("jobs/", views.job_list, name="jobs"),
    path("<job_id:job_id>/", views.job, name="job"),
    re_path(
        r"^(?P<job_id>[0-9]{1,18})/(?P<action>cancel|resume|retry)/$",
        views.job_action,
        name="job_action",
    ),
    path("<job_id:job_id>/name/", tidy_views.rename, name="rename"),
    path("<job_id:job_id>/delete/", tidy_views.delete, name="delete"),
    re_path(r"^(?P<job_id>[0-9]{1,18})/results\.(?P<fmt>csv|xlsx)$", views.export, name="export"),
]
