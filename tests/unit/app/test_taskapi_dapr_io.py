"""What an invocation's error answer says, as the Task API reports it (taskapi.dapr_io)."""

import pytest

from taskapi.dapr_io import _said


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"errorCode": "ERR_DIRECT_INVOKE", "message": "app not found"}', "app not found"),
        (b'{"type": "about:blank", "status": 401, "detail": "wrong key"}', "wrong key"),
        (b'{"message": 3}', '{"message": 3}'),
        (b"upstream down", "upstream down"),
        (b"", "(no body)"),
        (b"x" * 300, "x" * 200),
    ],
)
def test_an_error_answer_says_what_daprd_or_the_callee_wrote(body: bytes, said: str) -> None:
    assert _said(body) == said
