-- A question's retry key is (session, viewer, client id), not (viewer, client id): a client
-- id reused in another session is a new question there, never an echo of the old one.
-- SQLite cannot drop a table constraint, so the table is rebuilt with the new key.

CREATE TABLE questions_new (
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
    UNIQUE (session_id, viewer_id, client_id)
);
INSERT INTO questions_new SELECT
    id, session_id, viewer_id, client_id, text, nickname, state, category, item_id,
    service_link, flags, me_too, merged_into, merged_count, reply, decline_reason, position,
    pinned, host_id, on_air_at, answered_at, created_at, updated_at, version
FROM questions;
DROP TABLE questions;
ALTER TABLE questions_new RENAME TO questions;
CREATE INDEX questions_session ON questions (session_id, state, created_at);
