"""How both apps start and serve HTTP: their logging set up (``logs``), then uvicorn on uvloop
and httptools with that logging (uvicorn's own config is kept out).

Named, not uvicorn's "auto": a missing uvloop or httptools fails at start instead of
silently costing CPU (the pure-Python loop and h11 were a quarter of the Task API's CPU under
sustained load; docs/benchmarks.md).
"""

from collections.abc import Callable
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

from dapr_sidecar import logs


class Served(Protocol):
    """The settings both apps' entry points read."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def access_log(self) -> bool: ...
    @property
    def log_level(self) -> str: ...
    @property
    def log_format(self) -> str: ...


S = TypeVar("S", bound=Served)


def main(get_settings: Callable[[], S], create_app: Callable[[S], FastAPI]) -> None:
    """A console entry point: the app's settings, its logging, then serving it."""
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    serve(create_app(settings), settings.host, settings.port, access_log=settings.access_log)


def serve(app: FastAPI, host: str, port: int, *, access_log: bool) -> None:
    # log_config=None: keep the logging the caller configured (one format for every line).
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=access_log,
        loop="uvloop",
        http="httptools",
    )
