"""Console entry point `notification-service`: serve it with uvicorn."""

import uvicorn

from dapr_sidecar import logs
from notifier.main import create_app
from notifier.settings import get_settings


def main() -> None:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
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
