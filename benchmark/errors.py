"""The one exception type for mistakes in the user's input, and how an OSError met while working
(a full disk, a read-only directory) is told in one line."""
from __future__ import annotations

import errno


class UserError(Exception):
    """A bad value from the user: the CLI prints it as one line and exits with status 2."""


def disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def os_error_line(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    if disk_full(exc):
        return (f"the disk is full: {exc.strerror}{where}; free some space and run the same command again "
                "(finished results are kept, interrupted runs resume from their checkpoints)")
    return f"{exc.strerror or exc}{where}"
