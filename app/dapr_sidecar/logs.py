"""Logging configured once per process: one line per record, text or JSON lines.

Text follows the Kubernetes style (`Message key=value`); JSON puts the same message in
`msg`, for log pipelines that parse lines. Shared by the Task API and notification-service.
"""

import json
import logging
import sys
from datetime import UTC, datetime

_TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line)


class OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # A traceback becomes escaped newlines: one record is still one line.
        return super().format(record).replace("\n", "\\n")


def configure(level: str, fmt: str) -> None:
    """Replace the root handlers (idempotent); uvicorn's loggers propagate to the root."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else OneLine(_TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
