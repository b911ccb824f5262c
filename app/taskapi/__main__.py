"""Console entry point `taskapi`: serve the Task API with uvicorn."""

from dapr_sidecar import serving
from taskapi.main import create_app
from taskapi.settings import get_settings


def main() -> None:
    serving.main(get_settings, create_app)


if __name__ == "__main__":
    main()
