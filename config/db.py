"""The database beyond the ORM's one row at a time: reads that must agree with each other
(one moment of the database, not several), and many rows written or looked up at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import (
    NOT_PROVIDED,
    AutoField,
    CharField,
    F,
    Field,
    IntegerField,
    Lookup,
    Model,
    Q,
    TextField,
)
from django.utils import timezone


@contextmanager
def one_moment() -> Iterator[None]:
    """Run the block's reads against one moment of the database.

    Each statement outside a transaction sees the database as it is when it runs, so a
    figure read in several queries (the line: jobs' rows left, then the quotes in the
    slot) may count a row twice, or not at all, when the engine commits in between.
    PostgreSQL: a REPEATABLE READ transaction (reads never wait on writers, nor writers
    on them). SQLite, the demo's database: its transactions are IMMEDIATE (settings), so
    the block holds the write lock for the few milliseconds it reads; writers wait.
    Inside a caller's transaction, the caller's isolation stands.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def insert_all(model: type[Model], rows: list[dict], *, batch_size: int = 5000) -> list[int]:
    """Insert `rows` (field names to values, as the model's constructor takes them; a
    field left out takes its default) in the caller's transaction; their primary keys in
    order. No signals, as bulk_create. PostgreSQL: the keys from the table's sequence in
    one statement, then COPY, each value prepared once per distinct value (bulk_create
    builds an instance a row and prepares every value of it: a 20,000-row job's rows
    and quotes are over a million values, most of them the same). Elsewhere (SQLite, the
    demo's database), and for a model whose key is not a sequence's, bulk_create."""
    if not rows:
        return []
    if connection.vendor != "postgresql" or not isinstance(model._meta.pk, AutoField):
        made = [model(**row) for row in rows]
        model.objects.bulk_create(made, batch_size=batch_size)
        return [instance.pk for instance in made]
    table, key = model._meta.db_table, model._meta.pk.column
    columns = _columns(model, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, key, len(rows)],
        )
        keys = [row[0] for row in cursor.fetchall()]
        names = ", ".join(connection.ops.quote_name(name) for name in [key, *columns])
        statement = f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN"
        started = time.monotonic()
        with cursor.cursor.copy(statement) as copy:
            for values in zip(keys, *columns.values(), strict=True):
                copy.write_row(values)
    if connection.queries_logged:
        # As the debug cursor logs a statement: COPY does not pass through it.
        connection.queries_log.append(
            {"sql": statement, "time": f"{time.monotonic() - started:.3f}"}
        )
    return keys


def _columns(model: type[Model], rows: list[dict]) -> dict[str, list]:
    """The columns COPY writes, by name: all but the key and those NULL in every row
    (a column left out is NULL: no column here has a database default)."""
    now = timezone.now()
    given = set().union(*rows)
    columns = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        values = _column_values(field, rows, given=given, now=now)
        if field.null and field.db_default is NOT_PROVIDED and all(v is None for v in values):
            continue
        columns[field.column] = values
    return columns


_MISSING = object()


def _column_values(field: Field, rows: list[dict], *, given: set[str], now: datetime) -> list:
    """One column of `rows`, each value prepared for the database as `field` saves it."""
    db = connections[DEFAULT_DB_ALIAS]
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return [field.get_db_prep_save(now, db)] * len(rows)
    if field.name not in given and field.attname not in given:
        if not (field.has_default() and callable(field.default)):  # the same for every row
            return [field.get_db_prep_save(field.get_default(), db)] * len(rows)
        return [field.get_db_prep_save(field.get_default(), db) for _ in rows]
    raw = _raw_values(field, rows)
    if _as_they_are(field, raw):
        return raw
    try:
        prepared = {value: field.get_db_prep_save(value, db) for value in set(raw)}
    except TypeError:  # unhashable (JSON lists and dicts): each prepared
        return [field.get_db_prep_save(value, db) for value in raw]
    return [prepared[value] for value in raw]


def _as_they_are(field: Field, values: list) -> bool:
    """Whether the database takes `values` unchanged: text for a text column, integers
    for an integer one (a job's distinct streets and row numbers, prepared one by one,
    cost a tenth of a second)."""
    target = field.target_field if field.is_relation else field
    if isinstance(target, CharField | TextField):
        return all(type(value) is str for value in values)
    if isinstance(target, IntegerField):
        return all(type(value) is int for value in values)
    return False


def _raw_values(field: Field, rows: list[dict]) -> list:
    """The column's values as the rows give them (a related object by its key), a row
    that leaves the field out taking its default."""
    name, attname = field.name, field.attname
    if name == attname:
        raw = [row.get(name, _MISSING) for row in rows]
    else:
        raw = [row[attname] if attname in row else _key(row.get(name, _MISSING)) for row in rows]
    if any(value is _MISSING for value in raw):
        return [field.get_default() if value is _MISSING else value for value in raw]
    return raw


def _key(related):
    return related if related is None or related is _MISSING else related.pk


class _AnyOf(Lookup):
    """`column = ANY(%s)`: one array parameter, where `__in` sends one a value."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def one_of(field_name: str, values: list) -> Q | Lookup:
    """A filter: `field_name` is one of `values`. On PostgreSQL one array parameter: a
    job's 20,000 address keys as `__in` are 20,000 placeholders that Django and psycopg
    spell out and parse again, about 0.3 s a query."""
    if connection.vendor == "postgresql":
        return _AnyOf(F(field_name), values)
    return Q(**{f"{field_name}__in": values})
