"""Files only their owner may read (secrets, keys, personal data exports), written so that no
moment exists when another user could open them: created 0600 in the target's directory, then
renamed over the target, whole or not at all."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def private_directory(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (made so, or narrowed if it exists)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` with mode 0600 from its first byte."""
    raw = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # created with mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
