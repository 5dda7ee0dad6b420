"""What the API takes and returns. Money is a decimal string ("123.45"), never a float.

An answer is read from the domain's objects: a job, an upload, a row, and what the
selectors say of them (an estimate, a job's progress). A field the object names the same
way is read as is; one it names otherwise has a `validation_alias`; the rest a
`resolve_<field>` function beside it.
"""

from api.schemas.jobs import (  # noqa: F401
    Counts,
    Job,
    JobDetail,
    JobPage,
    JobStatus,
    JobWithProgress,
    Links,
    Row,
    RowInFlight,
    RowPage,
    RowStatus,
)
from api.schemas.uploads import (  # noqa: F401
    DuplicateRow,
    Error,
    Estimate,
    InvalidRow,
    Upload,
    UploadStatus,
)
