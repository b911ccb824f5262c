"""Console entry point `taskapi`: serve the Task API with uvicorn."""

import uvicorn

from taskapi.main import create_app
from taskapi.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
