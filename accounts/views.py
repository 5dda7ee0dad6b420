from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import ProfileForm, SignInForm
from accounts.models import ApiToken


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    pass


def _render_profile(request: HttpRequest, form: ProfileForm, new_token: str = "") -> HttpResponse:
    token = ApiToken.objects.filter(user=request.user).first()
    context = {"form": form, "api_token": token, "new_token": new_token}
    return render(request, "accounts/profile.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_profile(user=request.user, **form.cleaned_data)
        messages.success(request, "Your profile is saved.")
        return redirect("accounts:profile")
    return _render_profile(request, form)


@never_cache
@login_required
@require_POST
def api_token(request: HttpRequest) -> HttpResponse:
    # The new token is shown in this response only: it is never stored, so no redirect.
    raw = services.regenerate_api_token(user=request.user)
    return _render_profile(request, ProfileForm(instance=request.user), new_token=raw)


@login_required
@require_POST
def revoke_api_token(request: HttpRequest) -> HttpResponse:
    if services.revoke_api_token(user=request.user):
        messages.success(request, "Your API token is revoked; programs using it are refused.")
    return redirect("accounts:profile")
