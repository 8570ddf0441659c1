"""The errors a user can fix: the CLI prints their message on one line and exits non-zero."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an unusable environment; the message says what and where."""

    exit_code = 2


def as_user_error(exc: Exception) -> UserError:
    return UserError(str(exc))
