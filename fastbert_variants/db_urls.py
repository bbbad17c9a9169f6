"""A database URL as any output may show it: no password, no query value, even where the URL is malformed."""

from __future__ import annotations

import re

from sqlalchemy.exc import ArgumentError


def shown_url(url: str) -> str:
    """The URL with no credential left in it: SQLAlchemy's parse, rendered with hide_password, every query value
    masked (`?password=...`), and a raw '@' in the userinfo (which the parser leaves in the host or the user name)
    taken as the end of a password; one it cannot parse is masked by hand the same way."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        scheme, _, rest = url.partition("://")
        head, question, query = rest.partition("?")
        if "@" in head and not head.startswith("/"):
            user, _, host = head.rpartition("@")
            head = f"{re.split('[:@]', user)[0]}:***@{host}"
        masked = "&".join(f"{pair.partition('=')[0]}=***" for pair in query.split("&")) if question else ""
        return f"{scheme}://{head}" + (f"?{masked}" if question else "")
    if parsed.get_backend_name() == "sqlite" and not parsed.query:
        return url  # a file path: nothing to hide, shown as given
    if parsed.host and "@" in parsed.host:
        parsed = parsed.set(password="***", host=parsed.host.rpartition("@")[2])
    if parsed.username and "@" in parsed.username:
        parsed = parsed.set(username=parsed.username.partition("@")[0], password="***")
    if parsed.query:
        parsed = parsed.set(query={key: "***" for key in parsed.query})
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def redacted(text: str, url: str) -> str:
    """`text` (a driver's error message, which may quote the host or the URL) without any credential of `url`."""
    from sqlalchemy.engine import make_url

    text = text.replace(url, shown_url(url))
    try:
        parsed = make_url(url)
        secrets = [parsed.password, *parsed.query.values(), (parsed.host or "").rpartition("@")[0],
                   (parsed.username or "").partition("@")[2]]
    except (ArgumentError, ValueError):
        head = url.partition("://")[2].partition("?")[0]
        secrets = [head.rpartition("@")[0].partition(":")[2]] if "@" in head else []
    for secret in sorted((str(s) for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
