"""Alembic environment: migrations run on the connection the repository hands over.

``serialvault init`` (and ``Repository.migrate``) call Alembic programmatically with
``config.attributes["connection"]`` set, so the same code migrates SQLite and
PostgreSQL and no ``alembic.ini`` or URL is needed.
"""

from __future__ import annotations

from alembic import context

from serialvault.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
