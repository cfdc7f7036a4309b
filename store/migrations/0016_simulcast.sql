-- Simulcast destinations: the RTMP servers a live session's programme is pushed to (issue 15).
-- The stream key is stored as given (the pusher needs it) and never shown again in full.

CREATE TABLE simulcast_targets (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    stream_key TEXT NOT NULL DEFAULT '',
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX simulcast_targets_session ON simulcast_targets (session_id);
