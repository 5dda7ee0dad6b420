from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path
from django.views.decorators.http import require_GET

from api.views import api


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("bulk:index")


admin.site.site_header = "Bulk Quotes administration"
admin.site.site_title = "Bulk Quotes admin"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("quote/", include("quotes.urls")),
    path("bulk/", include("bulk.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
