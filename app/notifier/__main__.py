"""Console entry point `notification-service`: serve it with uvicorn."""

from dapr_sidecar import serving
from notifier.main import create_app
from notifier.settings import get_settings


def main() -> None:
    serving.main(get_settings, create_app)


if __name__ == "__main__":
    main()
