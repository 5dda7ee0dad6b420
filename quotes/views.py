from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from config.client_ip import client_ip
from quotes import selectors
from quotes.forms import QuoteForm
from quotes.pace import expected_pace
from quotes.services import intake, throttling

SESSION_KEY = "quote_ids"


@require_http_methods(["GET", "POST"])
def new_quote(request: HttpRequest) -> HttpResponse:
    if settings.QUOTE_REQUIRE_LOGIN and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    form = QuoteForm(request.POST or None, initial=QuoteForm.initial_for(request.user))
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            throttling.check_quote_rate(user=request.user, client_ip=client_ip(request))
            quote = intake.request_quote(user=request.user, **form.cleaned_data)
        except throttling.QuoteRateLimited as error:
            form.add_error(None, str(error))
            status = 429
        else:
            request.session[SESSION_KEY] = [
                *request.session.get(SESSION_KEY, [])[-49:],
                str(quote.public_id),
            ]
            return redirect("quotes:detail", public_id=quote.public_id)
    context = {"form": form, **_timing()}
    return render(request, "quotes/new.html", context, status=status)


@require_GET
@vary_on_headers("HX-Request")
def quote_detail(request: HttpRequest, public_id) -> HttpResponse:
    quote = selectors.quote_for_viewer(
        public_id=public_id,
        user=request.user,
        session_quote_ids=request.session.get(SESSION_KEY, []),
    )
    if quote is None:
        raise Http404("No such quote.")
    template = "quotes/detail.html" + ("#status" if request.htmx else "")
    context = {
        "quote": quote,
        "ahead": selectors.quotes_ahead(quote=quote),
        "health": selectors.momentum_health(),
        **_timing(),
    }
    return render(request, template, context)


@require_GET
@login_required
def my_quotes(request: HttpRequest) -> HttpResponse:
    page = selectors.quotes_page(user=request.user, page=request.GET.get("page", 1))
    return render(request, "quotes/mine.html", {"page": page})


def _timing() -> dict:
    # What the pages say about how long a quote takes: the slot's pace lately (the
    # line's, quotes.pace), or the limit before it is measured.
    pace = expected_pace()
    return {
        "latency": pace.per_quote if pace.measured else None,
        "quote_timeout": timedelta(seconds=settings.MOMENTUM_QUOTE_TIMEOUT),
    }
