"""Failures the Task API turns into HTTP problem responses, independent of the SDK's types."""


class TaskApiError(Exception):
    """Base of every error with a user-facing message."""


class TaskNotFoundError(TaskApiError):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} does not exist")
        self.task_id = task_id


class PreconditionFailedError(TaskApiError):
    def __init__(self, task_id: str, expected: str, current: str) -> None:
        super().__init__(
            f"task {task_id!r} changed: If-Match {expected!r} does not match ETag {current}; "
            "GET it again and retry with the new ETag"
        )


class PreconditionRequiredError(TaskApiError):
    def __init__(self) -> None:
        super().__init__(
            "this API requires If-Match on changes: GET the task and send its "
            "ETag as If-Match (or * to overwrite whatever is stored)"
        )


class EtagConflictError(TaskApiError):
    """The store rejected a write because the document changed since it was read."""


class ConflictRetriesExhaustedError(TaskApiError):
    def __init__(self, key: str, attempts: int) -> None:
        super().__init__(
            f"{key!r} kept changing under concurrent writers; gave up after {attempts} attempts"
        )


class DaprUnavailableError(TaskApiError):
    """The sidecar or one of its components cannot serve the request right now."""


class InvocationError(TaskApiError):
    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
