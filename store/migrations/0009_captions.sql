-- Live captions typed by a captioner, kept beside the recording (issue 16).

CREATE TABLE captions (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    text       TEXT NOT NULL,
    at         REAL NOT NULL,
    by         TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX captions_session_at ON captions (session_id, at);
