"""/metrics: Prometheus text, for staff or the bearer token; figures from the database."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bulk.models import BatchJob
from ops.services import tick_slot_clock
from quotes.models import MomentumErrorCount
from tests.factories import UserFactory
from tests.harness import create_job, job_finished, wait_until


def samples(body: str) -> dict:
    """(name, labels as a sorted tuple) to value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


@pytest.mark.django_db
def test_metrics_refuse_visitors_and_non_staff(client, user):
    assert client.get("/metrics").status_code == 401
    client.force_login(user)
    assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_metrics_refuse_a_wrong_token_and_take_the_right_one(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
def test_no_token_configured_means_no_token_works(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_metrics_parse_and_name_every_figure(client, staff_user):
    MomentumErrorCount.objects.create(kind="server_error", count=3)
    client.force_login(staff_user)
    figures = samples(client.get("/metrics").content.decode())
    assert figures[("bulkquotes_momentum_errors_total", (("kind", "server_error"),))] == 3
    for name in (
        "bulkquotes_slot_busy_seconds_total",
        "bulkquotes_slot_idle_while_work_waited_seconds_total",
        "bulkquotes_pricing_seconds_count",
        "bulkquotes_slots_held",
    ):
        assert (name, ()) in figures, name
    assert ("bulkquotes_rows_waiting", (("paused", "false"),)) in figures
    assert ("bulkquotes_rows_finished_total", (("outcome", "complete"),)) in figures
    assert ("bulkquotes_quotes_created_total", (("source", "bulk"),)) in figures


@pytest.mark.engine
@pytest.mark.timeout(180)
def test_counters_move_when_a_job_runs(engine, sandbox, client, staff_user):
    client.force_login(staff_user)
    tick_slot_clock()
    before = samples(client.get("/metrics").content.decode())
    engine.start()
    job = create_job(user=UserFactory(), rows=3, zip_for=lambda n: "99901" if n == 0 else "80202")
    wait_until(lambda: job_finished(job), timeout=90, what="the job\n" + engine.logs())
    tick_slot_clock()
    after = samples(client.get("/metrics").content.decode())

    def moved(name, labels=()):
        return after[(name, labels)] - before.get((name, labels), 0)

    assert job.status == BatchJob.Status.COMPLETE
    assert moved("bulkquotes_rows_finished_total", (("outcome", "complete"),)) == 2
    assert moved("bulkquotes_rows_finished_total", (("outcome", "failed"),)) == 1
    assert moved("bulkquotes_quotes_created_total", (("source", "bulk"),)) == 3
    assert moved("bulkquotes_pricing_seconds_count") == 2
    assert moved("bulkquotes_pricing_seconds_sum") > 0
    assert moved("bulkquotes_slot_busy_seconds_total") > 0.2
    assert after[("bulkquotes_rows_waiting", (("paused", "false"),))] == 0
