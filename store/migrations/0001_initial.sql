-- Tip Pocket schema, version 1. Columns mirror store/records.py; JSON fields are TEXT.

CREATE TABLE staff_users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE login_sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen  REAL NOT NULL,
    expires_at REAL NOT NULL,
    client     TEXT NOT NULL DEFAULT '',
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);
CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    at         REAL NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    before     TEXT,
    after      TEXT,
    session_id TEXT NOT NULL DEFAULT '',
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_action ON audit_log (action, at);

CREATE TABLE broadcasts (
    id              TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    scheduled_start REAL NOT NULL DEFAULT 0,
    scheduled_end   REAL NOT NULL DEFAULT 0,
    host_ids        TEXT NOT NULL DEFAULT '[]',
    presenter       TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'scheduled',
    started_at      REAL NOT NULL DEFAULT 0,
    ended_at        REAL NOT NULL DEFAULT 0,
    source          TEXT NOT NULL DEFAULT '',
    settings        TEXT NOT NULL DEFAULT '{}',
    on_air_id       TEXT NOT NULL DEFAULT '',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX broadcasts_status ON broadcasts (status, scheduled_start);

CREATE TABLE questions (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL,
    viewer_id      TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    text           TEXT NOT NULL,
    nickname       TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL DEFAULT 'pending',
    category       TEXT NOT NULL DEFAULT '',
    item_id        TEXT NOT NULL DEFAULT '',
    service_link   TEXT NOT NULL DEFAULT '',
    flags          TEXT NOT NULL DEFAULT '{}',
    me_too         INTEGER NOT NULL DEFAULT 0,
    merged_into    TEXT NOT NULL DEFAULT '',
    merged_count   INTEGER NOT NULL DEFAULT 0,
    reply          TEXT NOT NULL DEFAULT '',
    decline_reason TEXT NOT NULL DEFAULT '',
    position       REAL NOT NULL DEFAULT 0,
    pinned         INTEGER NOT NULL DEFAULT 0,
    host_id        TEXT NOT NULL DEFAULT '',
    on_air_at      REAL NOT NULL DEFAULT 0,
    answered_at    REAL NOT NULL DEFAULT 0,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (viewer_id, client_id)
);
CREATE INDEX questions_session ON questions (session_id, state, created_at);

CREATE TABLE clips (
    id            TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL,
    question_id   TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'pending',
    title         TEXT NOT NULL DEFAULT '',
    summary       TEXT NOT NULL DEFAULT '',
    category      TEXT NOT NULL DEFAULT '',
    item_id       TEXT NOT NULL DEFAULT '',
    service_link  TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    start_at      REAL NOT NULL DEFAULT 0,
    end_at        REAL NOT NULL DEFAULT 0,
    media_path    TEXT NOT NULL DEFAULT '',
    poster_path   TEXT NOT NULL DEFAULT '',
    captions_path TEXT NOT NULL DEFAULT '',
    duration      REAL NOT NULL DEFAULT 0,
    size_bytes    INTEGER NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',
    published_at  REAL NOT NULL DEFAULT 0,
    views         INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX clips_session ON clips (session_id);
CREATE INDEX clips_state ON clips (state, published_at);

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL DEFAULT 'queued',
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 5,
    run_after     REAL NOT NULL DEFAULT 0,
    lease_owner   TEXT NOT NULL DEFAULT '',
    lease_expires REAL NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX jobs_runnable ON jobs (state, run_after);
