"""HTTP ETag / If-Match formatting: store ETags travel quoted, as RFC 9110 requires."""

ANY = "*"


def to_header(etag: str) -> str:
    return f'"{etag}"'


def parse_if_match(raw: str | None) -> str | None:
    """The store ETag a client expects (or ANY); None when the header is absent."""
    if raw is None:
        return None
    value = raw.strip()
    if value == ANY:
        return ANY
    value = value.removeprefix("W/")
    return value.strip('"')


def matches(expected: str | None, current: str) -> bool:
    return expected is None or expected in (ANY, current)
