"""Console entry point `taskapi`: serve the Task API with uvicorn."""

from dapr_sidecar import logs
from dapr_sidecar.serving import serve
from taskapi.main import create_app
from taskapi.settings import get_settings


def main() -> None:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    serve(create_app(settings), settings.host, settings.port, access_log=settings.access_log)


if __name__ == "__main__":
    main()
