"""The workspace SQLite schema (bump ``SCHEMA_VERSION`` in db.py when it changes)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS integrators (
    name            TEXT PRIMARY KEY,
    description     TEXT NOT NULL DEFAULT '',
    model_type      TEXT NOT NULL,
    params_json     TEXT NOT NULL DEFAULT '{}',
    features_json   TEXT NOT NULL DEFAULT '{}',
    threshold       REAL NOT NULL DEFAULT 0.5,
    served_version  INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    sha256      TEXT PRIMARY KEY,
    ext         TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    stored_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    integrator     TEXT NOT NULL REFERENCES integrators(name) ON DELETE CASCADE,
    sha256         TEXT NOT NULL REFERENCES images(sha256),
    label          INTEGER NOT NULL CHECK (label IN (0, 1)),
    original_name  TEXT NOT NULL,
    added_at       TEXT NOT NULL,
    PRIMARY KEY (integrator, sha256)
);
CREATE TABLE IF NOT EXISTS feature_cache (
    sha256        TEXT NOT NULL,
    config_key    TEXT NOT NULL,
    spec_version  TEXT NOT NULL,
    n_trucks      INTEGER NOT NULL,
    values_json   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (sha256, config_key, spec_version)
);
CREATE TABLE IF NOT EXISTS versions (
    integrator     TEXT NOT NULL REFERENCES integrators(name) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    path           TEXT NOT NULL,
    model_type     TEXT NOT NULL,
    n_samples      INTEGER NOT NULL,
    metrics_json   TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (integrator, version)
);
CREATE TABLE IF NOT EXISTS audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    integrator  TEXT,
    detail_json TEXT NOT NULL DEFAULT '{}'
);
"""
