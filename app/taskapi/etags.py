"""HTTP ETag / If-Match: a task's ETag is its revision, quoted as RFC 9110 requires.

Not the store's ETag: that one changes format with the store (Redis counters, PostgreSQL
uuids) and cannot be known after a transaction without another read.
"""

ANY = "*"
# What this API hands out (a quoted revision, maybe marked weak by a proxy) or *.
IF_MATCH_PATTERN = r'^(\*|(W/)?"?[0-9]{1,18}"?)$'


def to_header(revision: int) -> str:
    return f'"{revision}"'


def parse_if_match(raw: str | None) -> str | None:
    """The revision a client expects (or ANY); None when the header is absent."""
    if raw is None:
        return None
    value = raw.strip()
    if value == ANY:
        return ANY
    value = value.removeprefix("W/")
    return value.strip('"')


def matches(expected: str | None, revision: int) -> bool:
    return expected is None or expected in (ANY, str(revision))
