-- Clips and the library: what a clip keeps of its question, its cut, views per viewer and
-- day, searches that found nothing, admin-edited data files.

ALTER TABLE clips ADD COLUMN question   TEXT NOT NULL DEFAULT '';
ALTER TABLE clips ADD COLUMN reply      TEXT NOT NULL DEFAULT '';
ALTER TABLE clips ADD COLUMN cut_mode   TEXT NOT NULL DEFAULT 'copy';
ALTER TABLE clips ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN job_id     TEXT NOT NULL DEFAULT '';
ALTER TABLE clips ADD COLUMN width      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN height     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE INDEX clips_question ON clips (question_id);
CREATE INDEX clips_published_views ON clips (state, views);
CREATE INDEX clips_item ON clips (state, item_id, published_at);

CREATE TABLE clip_views (
    id         TEXT PRIMARY KEY,
    clip_id    TEXT NOT NULL,
    viewer_id  TEXT NOT NULL,
    day        TEXT NOT NULL,
    created_at REAL NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX clip_views_day ON clip_views (day);

CREATE TABLE search_misses (
    id       TEXT PRIMARY KEY,
    query    TEXT NOT NULL,
    count    INTEGER NOT NULL DEFAULT 0,
    first_at REAL NOT NULL DEFAULT 0,
    last_at  REAL NOT NULL DEFAULT 0,
    version  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX search_misses_count ON search_misses (count);

CREATE TABLE data_files (
    id         TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1
);
