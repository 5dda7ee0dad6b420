"""A page of a list as the API answers it (`JobPage`, `RowPage`)."""

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator


@dataclass(frozen=True)
class ListPage:
    count: int
    page: int
    pages: int
    page_size: int
    items: list[Any]


def list_page(paginator: Paginator, *, page: int) -> ListPage:
    """The `page`th page of the paginator's list."""
    # A page past the last is empty (not the last page, as the web pages show).
    items = paginator.page(page).object_list if page <= paginator.num_pages else []
    return ListPage(
        count=paginator.count,
        page=page,
        pages=paginator.num_pages,
        page_size=paginator.per_page,
        items=list(items),
    )
