from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.http import require_GET

from api.views import api
from ops import views as ops_views


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("bulk:index")


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's, the API's).
    return redirect(static("favicon.svg"), permanent=True)


admin.site.site_header = "Bulk Quotes administration"
admin.site.site_title = "Bulk Quotes admin"

urlpatterns = [
    path("", home, name="home"),
    path("favicon.ico", favicon),
    path("accounts/", include("accounts.urls")),
    path("quote/", include("quotes.urls")),
    path("bulk/", include("bulk.urls")),
    path("api/v1/", api.urls),
    path("webhooks/", include("webhooks.urls")),
    path("ops/", include("ops.urls")),
    path("health/live", ops_views.live, name="health_live"),
    path("health/ready", ops_views.ready, name="health_ready"),
    path("metrics", ops_views.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]
