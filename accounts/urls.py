from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/api-token/", views.api_token, name="api_token"),
    path("profile/api-token/revoke/", views.revoke_api_token, name="revoke_api_token"),
]
