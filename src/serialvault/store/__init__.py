"""Storage on SQLite and PostgreSQL (SQLAlchemy Core, Alembic): the hash-chained log, the
projections, capture, queries, fingerprint, rebuild and audit. The only package that
talks to a database.
"""
