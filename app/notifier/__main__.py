"""Console entry point `notification-service`: serve it with uvicorn."""

import uvicorn

from notifier.main import create_app
from notifier.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
