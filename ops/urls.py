from django.urls import path

from ops import views

app_name = "ops"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/jobs/<int:job_id>/<slug:action>/", views.job_action, name="job_action"),
    path("queue/accounts/<slug:name>/<slug:action>/", views.account_action, name="account_action"),
    path("outbox/", views.outbox_list, name="outbox"),
    path("outbox/<str:name>/", views.outbox_message, name="outbox_message"),
]
