"""The Alembic chain builds exactly the schema the ORM models describe, on SQLite and PostgreSQL.

Several migrations were written side by side; a column added to a model without its migration (or the
reverse) would only show up as a failed insert in production.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hibachi.db import make_engine, upgrade
from hibachi.records import Base

pytestmark = pytest.mark.storage


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            differences = [d for d in compare_metadata(context, Base.metadata)
                           if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")]
    finally:
        engine.dispose()
    assert differences == []
