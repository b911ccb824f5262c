"""How both apps serve HTTP: uvicorn on uvloop and httptools, logging as ``logs`` set it up
(call ``logs.configure`` first: uvicorn's own config is kept out).

Named, not uvicorn's "auto": a missing uvloop or httptools fails at start instead of
silently costing CPU (the pure-Python loop and h11 were a quarter of the Task API's CPU under
sustained load; docs/benchmarks.md).
"""

import uvicorn
from fastapi import FastAPI


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
