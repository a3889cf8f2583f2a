"""Versioned migrations of the records database: an ordered list keyed on ``schema_version``.

Every migration is a function of one connection, applied inside a transaction together with
its ``schema_version`` row, so a database is always at one whole version. :func:`migrate` runs
at every store start: it applies the missing migrations in order and refuses a database whose
version is newer than this code knows (an older loadcheck must not write into a newer schema).

Rules for a new migration: append it (never edit an applied one: migration 1 below keeps its own
table definitions, frozen, instead of using :mod:`loadcheck.records.tables`), bump
``tables.SCHEMA_VERSION``, describe the new columns in ``tables.py``, and add the previous
version to the migration tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from loadcheck.records.model import RecordError
from loadcheck.records.tables import SCHEMA_VERSION, schema_version

LOGGER = logging.getLogger(__name__)

#: Any 64-bit number: the PostgreSQL advisory lock that serialises migrations of one database.
_ADVISORY_LOCK_KEY = 0x4C43_5245_4353  # "LCRECS"


class SchemaError(RecordError):
    """The database's schema cannot be used by this code."""


@dataclass(frozen=True)
class Migration:
    """One step: ``apply`` moves a database from ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def _v1_create(conn: sa.Connection) -> None:
    frozen = sa.MetaData()
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    records = sa.Table(
        "inspection_records",
        frozen,
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
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
        sa.CheckConstraint(
            "verdict IN ('Qualified', 'Unqualified', 'No Mine Detected')", name="ck_verdict"
        ),
        sa.CheckConstraint("probability >= 0 AND probability <= 1", name="ck_probability"),
    )
    sa.Index("ix_records_at", records.c.at, records.c.id)
    sa.Index(
        "ix_records_integrator_camera_at", records.c.integrator, records.c.camera, records.c.at
    )
    sa.Index("ix_records_photo", records.c.photo_sha256)
    photos = sa.Table(
        "record_photos",
        frozen,
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("first_used_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=False),
    )
    sa.Index("ix_photos_last_used_at", photos.c.last_used_at)
    frozen.create_all(conn)


def _v2_corrections(conn: sa.Connection) -> None:
    frozen = sa.MetaData()
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    corrections = sa.Table(
        "record_corrections",
        frozen,
        # No foreign key: a correction outlives its record's retention (it says what went into
        # the fitting data), and purging records needs no look-up here.
        sa.Column("record_id", big_id, primary_key=True, autoincrement=False),
        sa.Column("integrator", sa.Text, nullable=False),
        sa.Column("photo_sha256", sa.String(64), nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("corrected_by", sa.Text, nullable=False),
        sa.Column("corrected_at", sa.DateTime, nullable=False),
        sa.Column("first_corrected_at", sa.DateTime, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.CheckConstraint("label IN ('Qualified', 'Unqualified')", name="ck_correction_label"),
        sa.CheckConstraint("revision >= 1", name="ck_correction_revision"),
    )
    sa.Index("ix_corrections_integrator_at", corrections.c.integrator, corrections.c.corrected_at)
    frozen.create_all(conn)


#: Every migration, in order; the last one's version is :data:`tables.SCHEMA_VERSION`.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "inspection_records and record_photos", _v1_create),
    Migration(2, "record_corrections", _v2_corrections),
)


def current_version(conn: sa.Connection) -> int:
    """The database's schema version (0: no ``schema_version`` table, an empty database)."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    value = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
    return int(value or 0)


def _check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise SchemaError(f"migrations must be numbered 1, 2, 3, ... in order; got {versions}")


def migrate(
    engine: sa.Engine,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    target: int | None = None,
) -> list[int]:
    """Bring the database up to ``target`` (default: the last migration); returns the versions
    applied now (empty when it was up to date). Safe when several processes start at once: on
    PostgreSQL an advisory lock serialises them, on SQLite the write transaction does.

    Raises:
        SchemaError: the database is newer than ``target`` (written by a newer loadcheck).
    """
    _check_order(migrations)
    target = len(migrations) if target is None else target
    applied: list[int] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK_KEY)))
        schema_version.create(conn, checkfirst=True)
        found = current_version(conn)
        if found > target:
            raise SchemaError(
                f"the records database is at schema version {found}, newer than this loadcheck "
                f"knows ({target}); upgrade loadcheck, or point LOADCHECK_DATABASE_URL elsewhere"
            )
        for step in migrations[found:target]:
            LOGGER.info("records database: migration %d (%s)", step.version, step.description)
            step.apply(conn)
            conn.execute(
                schema_version.insert().values(
                    version=step.version,
                    description=step.description,
                    applied_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            applied.append(step.version)
    return applied


def check_version(engine: sa.Engine) -> None:
    """Raise :class:`SchemaError` unless the database is at :data:`SCHEMA_VERSION`."""
    with engine.connect() as conn:
        found = current_version(conn)
    if found != SCHEMA_VERSION:
        raise SchemaError(
            f"the records database is at schema version {found}; this loadcheck needs "
            f"{SCHEMA_VERSION} (run any loadcheck records command to migrate it)"
        )
