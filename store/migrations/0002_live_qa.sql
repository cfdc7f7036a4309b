-- Live Q&A: "me too" marks, viewer restrictions, blocked terms, decline reason templates.

CREATE TABLE me_too (
    id          TEXT PRIMARY KEY,
    question_id TEXT NOT NULL,
    viewer_id   TEXT NOT NULL,
    created_at  REAL NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX me_too_question ON me_too (question_id);

CREATE TABLE viewer_restrictions (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    until      REAL NOT NULL DEFAULT 0,
    reason     TEXT NOT NULL DEFAULT '',
    by         TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE term_rules (
    id         TEXT PRIMARY KEY,
    term       TEXT NOT NULL UNIQUE,
    action     TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE reason_templates (
    id         TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    position   REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1
);
