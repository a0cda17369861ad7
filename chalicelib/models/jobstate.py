"""Small per-job state items (e.g. the reconciliation watermark)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta


class JobState(Model):
    Meta = table_meta("job_state")

    job = UnicodeAttribute(hash_key=True)
    watermark = UnicodeAttribute(null=True)  # RFC 3339: everything before it was covered
    last_run_at = UnicodeAttribute(null=True)
    last_result = JSONAttribute(null=True)
