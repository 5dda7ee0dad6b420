"""The layout rules (docs/architecture.md, STYLE.md), checked over the repository.

Each check in tests/engine/layout.py is first shown to catch what it is for in a small
broken tree under tmp_path, and to let clean code pass; then it runs over the repository.
"""

import textwrap
from pathlib import Path

import pytest

from tests.engine import layout
from tests.engine.layout import ROOT, imports_in

__all__ = ["imports_in"]  # tests/ops/test_layout.py uses it


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write files (path: source) under root; returns root."""
    for path, source in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(source).lstrip("\n"))
    return root


def function(name: str, lines: int, indent: str = "") -> str:
    """The source of a function `lines` long from its def line to its last line."""
    body = [f"{indent}    x = {number}" for number in range(1, lines)]
    return "\n".join([f"{indent}def {name}():", *body]) + "\n"


# --- Which way dependencies run ------------------------------------------------------------


def test_upward_imports_catch_a_layer_importing_one_above_it(tmp_path):
    tree(
        tmp_path,
        {
            "quotes/services.py": "from bulk.models import BatchQuote\n",
            "momentum/client.py": "import quotes.models\n",
            "bulk/services/jobs.py": "from engine import services\n",
        },
    )
    assert layout.upward_imports(tmp_path) == [
        "bulk/services/jobs.py:1: imports engine",
        "momentum/client.py:1: imports quotes.models",
        "quotes/services.py:1: imports bulk.models",
    ]


def test_upward_imports_catch_engine_or_ops_imported_outside_config(tmp_path):
    tree(
        tmp_path,
        {
            "ops/views.py": "from engine.tasks import dispatch\n",
            "api/views.py": "def f():\n    import engine.services\n",
            "accounts/views.py": "from ops.models import Incident\n",
        },
    )
    assert layout.upward_imports(tmp_path) == [
        "accounts/views.py:1: imports ops.models",
        "api/views.py:2: imports engine.services",
        "ops/views.py:1: imports engine.tasks",
    ]


def test_upward_imports_pass_imports_down_and_text_that_only_mentions_a_layer(tmp_path):
    tree(
        tmp_path,
        {
            "engine/services.py": "from bulk import models\nfrom quotes import models\n",
            "bulk/services.py": '"""Never import engine from here."""\nfrom quotes import x\n',
            "ops/views.py": "from bulk import selectors\nfrom ops import models\n",
            "config/celery.py": "from engine import tasks\n",
            "config/urls.py": "from ops import urls\n",
        },
    )
    assert layout.upward_imports(tmp_path) == []


# --- a. Writes to Quote outside quotes/ ------------------------------------------------------


def test_quote_writes_catch_an_update_of_a_quote_queryset_under_bulk(tmp_path):
    tree(
        tmp_path,
        {
            "bulk/services/x.py": """
                from quotes.models import Quote

                def fail(pk):
                    Quote.objects.filter(pk=1).update(status="x")
                """
        },
    )
    assert layout.quote_writes(tmp_path) == [
        "bulk/services/x.py:4: Quote.objects.filter().update()"
    ]


@pytest.mark.parametrize(
    ("source", "write"),
    [
        ("Quote.objects.create(lead=lead)", "Quote.objects.create()"),
        ("Quote.objects.bulk_create(quotes)", "Quote.objects.bulk_create()"),
        ("Quote.objects.bulk_update(quotes, ['mrc'])", "Quote.objects.bulk_update()"),
        ("Quote.objects.get_or_create(pk=1)", "Quote.objects.get_or_create()"),
        ("Quote.objects.update_or_create(pk=1)", "Quote.objects.update_or_create()"),
        ("Quote.objects.filter(pk=1).delete()", "Quote.objects.filter().delete()"),
        ("Quote.objects.holding_slot()[0].save()", "Quote.objects.holding_slot()[].save()"),
        ("Quote(lead=lead).save()", "Quote().save()"),
        ("models.Quote.objects.all().update(mrc=1)", "models.Quote.objects.all().update()"),
        ("QuoteModel.objects.create()", "QuoteModel.objects.create()"),
        ("row.quote.save(update_fields=['mrc'])", "row.quote.save()"),
        ("source.takers.filter(status='q').update(status='x')", "source.takers.filter().update()"),
        ("lead.quotes.all().delete()", "lead.quotes.all().delete()"),
        # A quote from a helper: caught by its name.
        ("next_quote.save()", "next_quote.save()"),
    ],
)
def test_quote_writes_catch_each_kind_of_write(tmp_path, source, write):
    tree(
        tmp_path,
        {
            "bulk/x.py": f"""
                from quotes import models
                from quotes.models import Quote as QuoteModel

                def f(lead, quotes, row, source, next_quote):
                    {source}
                """
        },
    )
    assert layout.quote_writes(tmp_path) == [f"bulk/x.py:5: {write}"]


def test_quote_writes_catch_a_save_on_a_name_bound_to_a_quote(tmp_path):
    tree(
        tmp_path,
        {
            "bulk/x.py": """
                from quotes.models import Quote

                def made():
                    quote = Quote(lead=None)
                    quote.save()

                def got():
                    found = Quote.objects.select_for_update().get(pk=1)
                    found.mrc = 1
                    found.save(update_fields=["mrc"])

                def looped():
                    queued = Quote.objects.filter(status="queued")
                    for each in queued:
                        each.delete()

                def handed(item: Quote | None):
                    item.save()
                """
        },
    )
    assert layout.quote_writes(tmp_path) == [
        "bulk/x.py:5: quote.save()",
        "bulk/x.py:10: found.save()",
        "bulk/x.py:15: each.delete()",
        "bulk/x.py:18: item.save()",
    ]


def test_quote_writes_catch_writes_on_items_of_lists_of_quotes_not_on_the_lists(tmp_path):
    tree(
        tmp_path,
        {
            "bulk/x.py": """
                from django.db.models import QuerySet
                from quotes.models import Quote

                def f(given: list[Quote], queued: QuerySet[Quote], leads):
                    made = [Quote(lead=lead) for lead in leads]
                    listed = list(Quote.objects.filter(status="queued"))
                    held: Quote = pick(listed)
                    given.clear()
                    made.remove(made[0])
                    given[0].save()
                    for each in made:
                        each.save()
                    [one.delete() for one in listed]
                    queued.update(status="failed")
                    held.save()
                """
        },
    )
    assert layout.quote_writes(tmp_path) == [
        "bulk/x.py:10: given[].save()",
        "bulk/x.py:12: each.save()",
        "bulk/x.py:13: one.delete()",
        "bulk/x.py:14: queued.update()",
        "bulk/x.py:15: held.save()",
    ]


def test_quote_writes_pass_reads_of_quotes_and_writes_of_rows(tmp_path):
    tree(
        tmp_path,
        {
            "bulk/x.py": """
                from bulk.models import BatchQuote
                from quotes.models import Quote

                def f(job, row, batch_quote, workbook, out):
                    ids = Quote.objects.filter(status="queued").values_list("pk", flat=True)
                    quote = Quote.objects.get(pk=1)
                    if Quote.objects.filter(pk=quote.pk).exists():
                        BatchQuote.objects.filter(quote=quote).update(status="failed")
                    job.rows.filter(quote__status="failed").update(status="failed")
                    row.quote = quote
                    row.save(update_fields=["quote"])
                    batch_quote.save()
                    workbook.save(out)
                    other = row
                    other.save()
                    return ids, Quote.objects.filter(pk=1).count()
                """
        },
    )
    assert layout.quote_writes(tmp_path) == []


def test_quote_writes_pass_quotes_own_writes_and_other_quote_classes(tmp_path):
    tree(
        tmp_path,
        {
            "quotes/services/x.py": "Quote.objects.filter(pk=1).update(mrc=1)\n",
            "engine/x.py": "from momentum.sandbox.state import Quote\nQuote(id=1).save()\n",
        },
    )
    assert layout.quote_writes(tmp_path) == []


# --- b. Naming an engine task --------------------------------------------------------------


def test_engine_task_names_catch_send_task_outside_the_wake_function(tmp_path):
    tree(
        tmp_path,
        {
            "bulk/services/x.py": """
                from celery import current_app

                def wake():
                    current_app.send_task("engine.tasks.dispatch")
                """
        },
    )
    assert layout.engine_task_names(tmp_path) == [
        "bulk/services/x.py:4: names 'engine.tasks.dispatch'",
        "bulk/services/x.py:4: send_task",
    ]


def test_engine_task_names_catch_a_task_name_outside_the_wake_function(tmp_path):
    tree(
        tmp_path,
        {
            "quotes/services/lifecycle.py": 'DISPATCH_TASK = "engine.tasks.dispatch"\n',
            "config/celery.py": """
                @app.task(name="engine.tasks.wake")
                def wake_engine():
                    app.send_task("engine.tasks.dispatch")

                def wake_sweeper():
                    app.send_task("engine.tasks.sweep")
                """,
            "config/settings.py": 'STRAY = "engine.tasks.dispatch"\n',
        },
    )
    assert layout.engine_task_names(tmp_path) == [
        "config/celery.py:1: names 'engine.tasks.wake'",
        "config/celery.py:6: names 'engine.tasks.sweep'",
        "config/celery.py:6: send_task",
        "config/settings.py:1: names 'engine.tasks.dispatch'",
        "quotes/services/lifecycle.py:1: names 'engine.tasks.dispatch'",
    ]


def test_engine_task_names_pass_the_wake_function_engine_and_celery_settings(tmp_path):
    tree(
        tmp_path,
        {
            "config/celery.py": """
                def wake_engine():
                    transaction.on_commit(lambda: app.send_task("engine.tasks.dispatch"))
                """,
            "engine/tasks.py": 'NAME = "engine.tasks.dispatch"\napp.send_task(NAME)\n',
            "config/settings.py": """
                CELERY_TASK_ROUTES = {
                    "engine.tasks.dispatch": {"queue": "control"},
                }
                CELERY_BEAT_SCHEDULE: dict = {
                    "sweep": {"task": "engine.tasks.sweep"},
                }
                """,
            "bulk/services.py": '"""Wakes engine.tasks.dispatch through wake_engine."""\n'
            'SWEEP = "bulk.tasks.sweep"\n',
        },
    )
    assert layout.engine_task_names(tmp_path) == []


# --- c. Function-level imports -----------------------------------------------------------


def test_function_level_imports_catch_a_project_import_inside_a_function(tmp_path):
    tree(
        tmp_path,
        {
            "bulk/services/jobs.py": """
                def finish_job():
                    from bulk.tasks import x

                    x.delay_on_commit()
                """
        },
    )
    assert layout.function_level_imports(tmp_path) == [
        "bulk/services/jobs.py:2: finish_job imports bulk.tasks"
    ]


def test_function_level_imports_catch_methods_relative_and_dynamic_imports(tmp_path):
    tree(
        tmp_path,
        {
            "ops/health.py": """
                import importlib

                class Check:
                    def check_status(self):
                        from . import selectors
                        import config.celery
                        return importlib.import_module("quotes.selectors")
                """
        },
    )
    assert layout.function_level_imports(tmp_path) == [
        "ops/health.py:5: Check.check_status imports ops",
        "ops/health.py:6: Check.check_status imports config.celery",
        "ops/health.py:7: Check.check_status imports quotes.selectors",
    ]


def test_function_level_imports_pass_libraries_module_level_and_allowed_ones(tmp_path):
    tree(
        tmp_path,
        {
            "config/celery.py": """
                from bulk import tasks

                def recycle():
                    from django.db import close_old_connections
                    import json
                """,
            "ops/apps.py": """
                class OpsConfig:
                    def ready(self):
                        from ops import logging
                """,
            "bulk/migrations/0002_data.py": "def forwards():\n    from bulk.models import X\n",
            "tests/bulk/test_x.py": "def test_x():\n    from bulk.models import X\n",
        },
    )
    assert layout.function_level_imports(tmp_path) == []


# --- d. Long modules -----------------------------------------------------------------------


def test_long_modules_catch_an_app_module_over_400_lines(tmp_path):
    tree(tmp_path, {"bulk/parsing.py": "x = 1\n" * 401, "bulk/rows.py": "x = 1\n" * 400})
    assert layout.long_modules(tmp_path) == ["bulk/parsing.py: 401 lines"]


def test_long_modules_pass_settings_migrations_tests_and_benchmarks(tmp_path):
    long = "x = 1\n" * 500
    tree(
        tmp_path,
        {
            "config/settings.py": long,
            "bulk/migrations/0001_initial.py": long,
            "tests/bulk/test_jobs.py": long,
            "benchmarks/pipeline.py": long,
        },
    )
    assert layout.long_modules(tmp_path) == []


# --- e. Long functions ---------------------------------------------------------------------


def test_long_functions_catch_a_function_over_60_lines(tmp_path):
    source = function("parse", 61) + "\n\n" + function("read", 60)
    tree(tmp_path, {"bulk/parsing.py": source})
    assert layout.long_functions(tmp_path) == ["bulk/parsing.py:1: parse is 61 lines"]


def test_long_functions_name_methods_and_nested_functions(tmp_path):
    method = function("add_arguments", 61, indent="    ")
    nested = "def outer():\n" + function("inner", 61, indent="    ")
    tree(tmp_path, {"a/x.py": "class Command:\n" + method, "a/y.py": nested})
    assert layout.long_functions(tmp_path) == [
        "a/x.py:2: Command.add_arguments is 61 lines",
        "a/y.py:1: outer is 62 lines",
        "a/y.py:2: outer.inner is 61 lines",
    ]


def test_long_functions_leave_out_decorators_tests_benchmarks_and_migrations(tmp_path):
    decorated = "@transaction.atomic\n@require_POST\n" + function("submit", 60)
    long = function("f", 100)
    tree(
        tmp_path,
        {
            "bulk/services.py": decorated,
            "tests/test_x.py": long,
            "benchmarks/pipeline.py": long,
            "bulk/migrations/0002_data.py": long,
        },
    )
    assert layout.long_functions(tmp_path) == []


# --- The repository ------------------------------------------------------------------------


def assert_none(violations: list[str]) -> None:
    assert violations == [], "\n" + "\n".join(violations)


def test_no_app_imports_a_layer_above_it():
    assert_none(layout.upward_imports(ROOT))


def test_only_quotes_writes_quotes():
    assert_none(layout.quote_writes(ROOT))


def test_only_the_wake_function_names_an_engine_task():
    assert_none(layout.engine_task_names(ROOT))


def test_no_function_imports_the_project():
    assert_none(layout.function_level_imports(ROOT))


def test_no_app_module_is_over_400_lines():
    assert_none(layout.long_modules(ROOT))


def test_no_function_is_over_60_lines():
    assert_none(layout.long_functions(ROOT))
