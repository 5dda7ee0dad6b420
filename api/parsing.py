"""How the API reads query strings and forms: each parameter once.

Django keeps the last of a repeated parameter (`?page=1&page=2` reads page 2); the API
refuses it instead, as the OpenAPI document says (one value each), with a 400 naming it.
"""

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.errors import ValidationError
from ninja.parser import Parser
from ninja.types import DictStrAny


class OnceEachParser(Parser):
    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> DictStrAny:
        repeated = [k for k, v in data.lists() if len(v) > 1 and k not in list_fields]
        if repeated:
            raise ValidationError(
                [{"loc": (name,), "msg": "given more than once; give it once"} for name in repeated]
            )
        return super().parse_querydict(data, list_fields, request)
