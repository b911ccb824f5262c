"""Console entry point `notification-service`: serve it with uvicorn."""

import uvicorn

from notifier.main import create_app
from notifier.settings import get_settings

# The Pod network namespace is the boundary; the sidecar reaches the app on this port.
LISTEN_ALL = "0.0.0.0"  # noqa: S104


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=LISTEN_ALL, port=settings.port)


if __name__ == "__main__":
    main()
