from django.urls import path

from bulk import views

app_name = "bulk"

urlpatterns = [
    path("", views.index, name="index"),
]
