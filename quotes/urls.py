from django.urls import path

from quotes import views

app_name = "quotes"

urlpatterns = [
    path("", views.new_quote, name="new"),
    path("mine/", views.my_quotes, name="mine"),
    path("<uuid:public_id>/", views.quote_detail, name="detail"),
]
