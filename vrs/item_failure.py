"""An unexpected exception in one batch item becomes that item's error, not the batch's."""

from __future__ import annotations

import logging

from vrs.errors import VrsError

log = logging.getLogger(__name__)


def as_item_error(error: BaseException, what: str) -> VrsError:
    """A VrsError unchanged; any other Exception logged with its traceback and returned as a
    plain VrsError (INTERNAL) that names only its type, since its text may hold secrets.

    BaseExceptions that are not Exceptions (cancellation, exit) are re-raised.
    """
    if isinstance(error, VrsError):
        return error
    if not isinstance(error, Exception):
        raise error
    log.error("unexpected error in %s", what, exc_info=error)
    return VrsError(f"internal error in {what} ({type(error).__name__}); see the server log")
