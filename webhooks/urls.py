from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:endpoint_id>/delete/", views.delete, name="delete"),
    path("deliveries/<uuid:delivery_id>/send-again/", views.send_again, name="send_again"),
]
