"""The workspace SQLite schema (bump ``SCHEMA_VERSION`` in db.py when it changes).

``CREATE TABLE IF NOT EXISTS`` adds new tables to older workspaces; a column added to an existing
table also needs its ``ALTER TABLE`` in :data:`COLUMNS_ADDED`.

``sample_corrections`` tags the fitting samples that came from an operator's correction of an
inspection record (``loadcheck.integrators.corrections``); ``versions.n_corrections`` is how
many such samples a fitted version was fitted on. ``integrators.review_json`` holds the
integrator's "needs review" thresholds that differ from the defaults
(``loadcheck.scoring.review.ReviewSettings``), written into each fitted version.
``cameras`` are named sources of an integrator with an optional region of interest
(``roi_json``: ``[[x, y], ...]`` image pixels, ``NULL``: the whole photo;
``loadcheck.workspace.cameras``).
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS integrators (
    name            TEXT PRIMARY KEY,
    description     TEXT NOT NULL DEFAULT '',
    model_type      TEXT NOT NULL,
    params_json     TEXT NOT NULL DEFAULT '{}',
    features_json   TEXT NOT NULL DEFAULT '{}',
    threshold       REAL NOT NULL DEFAULT 0.5,
    review_json     TEXT NOT NULL DEFAULT '{}',
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
    n_corrections  INTEGER NOT NULL DEFAULT 0,
    metrics_json   TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (integrator, version)
);
CREATE TABLE IF NOT EXISTS sample_corrections (
    integrator    TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    record_id     INTEGER NOT NULL,
    label         INTEGER NOT NULL CHECK (label IN (0, 1)),
    corrected_by  TEXT NOT NULL,
    corrected_at  TEXT NOT NULL,
    PRIMARY KEY (integrator, sha256),
    FOREIGN KEY (integrator, sha256) REFERENCES samples(integrator, sha256) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS cameras (
    name        TEXT PRIMARY KEY,
    integrator  TEXT NOT NULL REFERENCES integrators(name) ON DELETE CASCADE,
    roi_json    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
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

#: Columns added after schema version 1: (table, column, ALTER TABLE statement), applied to a
#: workspace whose table lacks the column.
COLUMNS_ADDED: tuple[tuple[str, str, str], ...] = (
    (
        "versions",
        "n_corrections",
        "ALTER TABLE versions ADD COLUMN n_corrections INTEGER NOT NULL DEFAULT 0",
    ),
    (
        "integrators",
        "review_json",
        "ALTER TABLE integrators ADD COLUMN review_json TEXT NOT NULL DEFAULT '{}'",
    ),
)
