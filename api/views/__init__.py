"""The JSON API for programs: the same powers as the job pages, under /api/v1/.

Built with django-ninja: typed function views (the house style of the web views), request
and response schemas validated by pydantic, and the OpenAPI schema generated from them.
Writes go through the same services as the web pages; reads through the same selectors.
One module per resource: `uploads` (upload, choose the columns, submit) and `jobs` (a
job, its actions and its results). What each error answers is `api.errors`'s table.
"""

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.operation import Operation

from api import errors
from api.auth import API_AUTH
from api.parsing import OnceEachParser
from api.views import jobs, uploads, webhooks

DESCRIPTION = """
Bulk quotes for programs. Sign in with `Authorization: Bearer <token>` (make the token on
your profile page), or from the portal's own pages with the session cookie and the
`X-CSRFToken` header.

To quote a spreadsheet: `POST /uploads` with the file (the answer is the validation:
counts, and every invalid row with its reasons), then `POST /uploads/{id}/submit` to start
the job (calling it again returns the same job). The file is read while you wait; when
its address columns can't all be found its status is `mapping`: choose them with
`POST /uploads/{id}/columns`.

`GET /jobs?q=` finds jobs by name, file name or an address in them; `PATCH /jobs/{id}`
renames a job; `DELETE /jobs/{id}` deletes a finished or cancelled one with its rows,
file and results.

To be told when prices are ready instead of polling, register a webhook:
`POST /webhooks` with `{"url", "events"}` (`job.finished`, `job.progress`,
`quote.finished`); every delivery is signed with the secret in its answer
(docs/webhooks.md).

Errors answer `{"detail": "...", "code": "..."}`: 400 for bad input (including a file
that is not an xlsx, xls, ods or csv spreadsheet, or a bad mapping), 401 without valid
credentials (on every method), 403 for a session POST without its CSRF token, 404 for
anything that is not yours, 409 when the job or upload is not in a state that allows the
action (including an upload with nothing to quote), 410 for an expired upload, 414 for a
URL longer than 2,048 characters, 429 when a job was retried too often this hour. Each
endpoint lists the ones it gives. A query or form parameter given more than once answers
400.
"""


class BulkQuotesAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # The ids of the views' one module, which programs' generated clients are named by.
        return f"api_views_{operation.view_func.__name__}"

    def create_temporal_response(self, request: HttpRequest) -> HttpResponse:
        # Every operation calls this before it reads its parameters; what it raises is
        # answered by the errors table.
        errors.check_url_length(request)
        return super().create_temporal_response(request)


api = BulkQuotesAPI(
    title="Bulk Quotes API",
    version="1",
    description=DESCRIPTION,
    auth=API_AUTH,
    urls_namespace="api",
    parser=OnceEachParser(),
)
errors.install(api)
api.add_router("", uploads.router)
api.add_router("", jobs.router)
api.add_router("", webhooks.router)
