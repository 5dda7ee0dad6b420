import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import ProfileForm, SignInForm
from accounts.models import ApiToken
from config.client_ip import client_ip

logger = logging.getLogger(__name__)


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    pass


# A new API token waits here between the POST that made it and the page that shows it
# once (POST-redirect-GET: refreshing that page must not make another token).
NEW_TOKEN_KEY = "new_api_token"  # noqa: S105 - a session key, not a secret


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self) -> dict:
        # Links in the email use the configured address, never the request's Host header.
        return {"portal_url": settings.PORTAL_URL}

    def form_valid(self, form) -> HttpResponse:
        # Past the limits nothing is sent, and the answer is the one every request gets:
        # it must not tell whether the address has an account, nor that it is throttled.
        if not services.take_password_reset(
            email=form.cleaned_data["email"], client_ip=client_ip(self.request)
        ):
            logger.warning("password reset not sent: too many requests (throttled)")
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_profile(user=request.user, **form.cleaned_data)
        messages.success(request, "Your profile is saved.")
        return redirect("accounts:profile")
    context = {
        "form": form,
        "api_token": ApiToken.objects.filter(user=request.user).first(),
        # Shown on this page once, then gone from the session.
        "new_token": request.session.pop(NEW_TOKEN_KEY, ""),
    }
    return render(request, "accounts/profile.html", context)


@login_required
@require_POST
def api_token(request: HttpRequest) -> HttpResponse:
    request.session[NEW_TOKEN_KEY] = services.regenerate_api_token(user=request.user)
    return redirect(reverse("accounts:profile") + "#api-token")


@login_required
@require_POST
def revoke_api_token(request: HttpRequest) -> HttpResponse:
    if services.revoke_api_token(user=request.user):
        messages.success(request, "Your API token is revoked; programs using it are refused.")
    return redirect("accounts:profile")
