"""The records schema as the store queries it (SQLAlchemy Core), at :data:`SCHEMA_VERSION`.

The migrations (:mod:`loadcheck.records.migrations`) create and change the tables; this module
only describes the current schema for queries. ``tests/functional/records`` checks that a
database migrated from empty has exactly these tables and columns, on SQLite and PostgreSQL.

Times are stored as naive UTC (``TIMESTAMP WITHOUT TIME ZONE``) on both engines, so range
filters compare the same way everywhere; the store converts to and from aware UTC datetimes.
"""

from __future__ import annotations

import sqlalchemy as sa

#: The schema version this code reads and writes (the last migration's).
SCHEMA_VERSION = 2

metadata = sa.MetaData()

#: 64-bit ids on PostgreSQL; SQLite's rowid alias must be declared INTEGER.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

records = sa.Table(
    "inspection_records",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("camera", sa.Text),
    sa.Column("integrator", sa.Text, nullable=False),
    sa.Column("scorer_version", sa.Integer),
    sa.Column("repository_build", sa.Text),
    sa.Column("networks", sa.JSON, nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("needs_review", sa.Boolean),
    sa.Column("feature_spec_version", sa.Text),
    sa.Column("features", sa.JSON),
    sa.Column("trucks", sa.JSON, nullable=False),
    sa.Column("photo_sha256", sa.String(64)),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("source", sa.Text),
)

photos = sa.Table(
    "record_photos",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("first_used_at", sa.DateTime, nullable=False),
    sa.Column("last_used_at", sa.DateTime, nullable=False),
)

#: Operators' corrections of verdicts (migration 2): one row per corrected record, updated when
#: the record is corrected again (``revision`` counts the corrections; the workspace audit log
#: keeps each one).
corrections = sa.Table(
    "record_corrections",
    metadata,
    sa.Column("record_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("integrator", sa.Text, nullable=False),
    sa.Column("photo_sha256", sa.String(64), nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("corrected_by", sa.Text, nullable=False),
    sa.Column("corrected_at", sa.DateTime, nullable=False),
    sa.Column("first_corrected_at", sa.DateTime, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
)
