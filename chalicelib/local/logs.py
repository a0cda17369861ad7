"""Local log lines a person can read in a terminal: one short line per request.

The cloud keeps Powertools' JSON lines (CloudWatch Logs Insights queries them); locally
each line becomes `time LEVEL message key=value …`, and a request is
`time → POST /v1/checkout 201 [code] user`.
"""

from __future__ import annotations

import json
import logging

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

# Keys that help a machine correlate lines, not a person reading a terminal.
QUIET = {"timestamp", "service", "location", "function_request_id", "request_id", "correlation_id", "level", "message"}


class TerminalFormatter(LambdaPowertoolsFormatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = json.loads(super().format(record))
        at = str(doc.get("timestamp", ""))[11:19]
        message = doc.get("message", "")
        if message == "request handled":
            parts = [at, "→", str(doc.get("route", "")), str(doc.get("status", ""))]
            parts += [str(doc[k]) for k in ("code", "user_id") if doc.get(k)]
            return " ".join(parts)
        rest = " ".join(f"{k}={v}" for k, v in doc.items() if k not in QUIET and k != "route" and v is not None)
        line = f"{at} {doc.get('level', record.levelname):<7} {message}"
        return f"{line} {rest}" if rest else line


def use_terminal_lines(logger: logging.Logger | object) -> None:
    """Give the Powertools logger's handler the terminal formatter."""
    for handler in getattr(getattr(logger, "_logger", None), "handlers", []):
        handler.setFormatter(TerminalFormatter(use_rfc3339=True))
