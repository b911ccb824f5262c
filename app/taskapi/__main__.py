"""Console entry point `taskapi`: serve the Task API with uvicorn."""

import uvicorn

from taskapi.main import create_app
from taskapi.settings import get_settings

# The Pod network namespace is the boundary; the sidecar reaches the app on this port.
LISTEN_ALL = "0.0.0.0"  # noqa: S104


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=LISTEN_ALL, port=settings.port)


if __name__ == "__main__":
    main()
