"""A database session for the monitoring commands: an unreachable or unmigrated database is a one-line error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from hibachi.errors import UserError


@contextmanager
def cli_session() -> Iterator[Session]:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from hibachi.db import check_connection, make_engine, safe_url, session_factory
    from hibachi.settings import get_settings

    url = get_settings().database_url
    engine = make_engine(url)
    try:
        check_connection(engine)
        with session_factory(engine)() as session:
            try:
                yield session
            except (OperationalError, ProgrammingError) as exc:
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                raise UserError(f"database {safe_url(url)} cannot be read ({reason}); run `hibachi db upgrade`") \
                    from None
    finally:
        engine.dispose()
