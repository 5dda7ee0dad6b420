"""A user's webhooks page: their endpoints and recent deliveries, add one (its secret shown
once), delete one, send a delivery again. The API does the same (api/views/webhooks.py)."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from webhooks import services
from webhooks.forms import EndpointForm
from webhooks.models import Delivery, Endpoint

RECENT_DELIVERIES = 20


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    new = None
    if request.method == "POST" and form.is_valid():
        try:
            new = services.register_endpoint(user=request.user, **form.cleaned_data)
        except services.EndpointRefused as refused:
            form.add_error("url", str(refused))
        else:
            form = EndpointForm()
    endpoints = Endpoint.objects.filter(user=request.user)
    deliveries = Delivery.objects.filter(endpoint__user=request.user).select_related("endpoint")
    context = {
        "form": form,
        "new": new,
        "endpoints": endpoints,
        "deliveries": deliveries.order_by("-created_at")[:RECENT_DELIVERIES],
    }
    return render(request, "webhooks/index.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint.objects.filter(user=request.user), pk=endpoint_id)
    services.delete_endpoint(endpoint=endpoint)
    messages.success(request, "The webhook is deleted.")
    return redirect("webhooks:index")


@login_required
@require_POST
def send_again(request: HttpRequest, delivery_id: UUID) -> HttpResponse:
    mine = Delivery.objects.filter(endpoint__user=request.user)
    delivery = get_object_or_404(mine, pk=delivery_id)
    try:
        services.send_again(delivery=delivery)
    except services.DeliveryRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "The delivery goes out again now.")
    return redirect("webhooks:index")
