-- The event outbox (issue 13): each action's events, numbered per session in the action's
-- own transaction. One row per event; the counter keeps the last seq handed out, so
-- trimming old events never lets a number be reused.

CREATE TABLE events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    audience TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,           -- the event's fields, JSON
    created_at REAL NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE INDEX events_created_at ON events (created_at);

CREATE TABLE event_counters (
    session_id TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;
