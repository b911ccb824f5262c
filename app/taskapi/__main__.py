"""Console entry point `taskapi`: serve the Task API with uvicorn."""

import uvicorn

from dapr_sidecar import logs
from taskapi.main import create_app
from taskapi.settings import get_settings


def main() -> None:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    # log_config=None: keep the logging configured above (one format for every line).
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        # named, not "auto": a missing one fails at start instead of silently costing CPU
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
