from django.urls import path

from bulk import views

app_name = "bulk"

urlpatterns = [
    path("", views.index, name="index"),
    path("uploads/<uuid:upload_id>/", views.preview, name="preview"),
    path("uploads/<uuid:upload_id>/submit/", views.submit, name="submit"),
    path("uploads/<uuid:upload_id>/invalid-rows.csv", views.invalid_rows, name="invalid_rows"),
    path("<int:job_id>/", views.job, name="job"),
]
