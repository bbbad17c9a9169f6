"""Files the suite writes: whole or not at all, so a killed run or a full disk never leaves half a JSON."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path | str, text: str) -> None:
    """Write to a temporary file beside `path`, fsync it, then rename it over `path` (atomic on POSIX)."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would keep a CI step of another user from reading it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting it, then setting it back: POSIX has no other way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
