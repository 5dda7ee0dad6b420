from django.urls import path, re_path

from bulk import views

app_name = "bulk"

urlpatterns = [
    path("", views.index, name="index"),
    path("uploads/<uuid:upload_id>/", views.preview, name="preview"),
    path("uploads/<uuid:upload_id>/columns/", views.columns, name="columns"),
    path("uploads/<uuid:upload_id>/submit/", views.submit, name="submit"),
    path("template.xlsx", views.template_file, name="template"),
    path("uploads/<uuid:upload_id>/invalid-rows.csv", views.invalid_rows, name="invalid_rows"),
    path("jobs/", views.job_list, name="jobs"),
    path("<int:job_id>/", views.job, name="job"),
    re_path(
        r"^(?P<job_id>\d+)/(?P<action>cancel|resume|retry)/$", views.job_action, name="job_action"
    ),
    re_path(r"^(?P<job_id>\d+)/results\.(?P<fmt>csv|xlsx)$", views.export, name="export"),
]
