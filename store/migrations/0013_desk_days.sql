-- The desk's days follow [server] time_zone (issue 14), and the review's most asked wordings
-- come from a rollup instead of a GROUP BY text over every question of the period.
--
-- ``desk_days`` holds the UTC offset the rollups count days in (one row; Beijing, +8 h, until
-- the server sets its own: SQLiteStore.use_rollup_offset recounts both rollups when it
-- changes). The 0007 triggers are recreated to read it.
--
-- ``text_rollup``: per (day, category, item, text) the questions asked and their outcomes,
-- merged questions left out (as text_counts always did), kept by triggers in the same
-- transaction as every question write; ``text_week`` the same per Monday-to-Sunday week
-- (week n starts on day 7n - 3: 1970-01-01 was a Thursday). Each has an index by count, so
-- the most asked wordings of a day or a week are the first rows of an index range.

CREATE TABLE desk_days (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    utc_offset INTEGER NOT NULL
);
INSERT INTO desk_days (id, utc_offset) VALUES (1, 28800);

DROP TRIGGER question_rollup_insert;
DROP TRIGGER question_rollup_update;
DROP TRIGGER question_rollup_delete;

CREATE TABLE text_rollup (
    day      INTEGER NOT NULL,
    category TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    text     TEXT NOT NULL,
    asked    INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    replied  INTEGER NOT NULL,
    declined INTEGER NOT NULL,
    open     INTEGER NOT NULL,
    PRIMARY KEY (day, category, item_id, text)
) WITHOUT ROWID;

CREATE INDEX text_rollup_top ON text_rollup (day, asked DESC, text, category, item_id);

CREATE TABLE text_week (
    week     INTEGER NOT NULL,
    category TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    text     TEXT NOT NULL,
    asked    INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    replied  INTEGER NOT NULL,
    declined INTEGER NOT NULL,
    open     INTEGER NOT NULL,
    PRIMARY KEY (week, category, item_id, text)
) WITHOUT ROWID;

CREATE INDEX text_week_top ON text_week (week, asked DESC, text, category, item_id);

INSERT INTO text_rollup (day, category, item_id, text, asked, answered, replied, declined, open)
SELECT CAST((created_at + 28800) / 86400 AS INTEGER), category, item_id, text, COUNT(*),
       SUM(state = 'answered'), SUM(state = 'replied'), SUM(state = 'declined'),
       SUM(state IN ('pending', 'queued', 'on_air'))
FROM questions WHERE state != 'merged' GROUP BY 1, 2, 3, 4;

INSERT INTO text_week (week, category, item_id, text, asked, answered, replied, declined, open)
SELECT (day + 3) / 7, category, item_id, text, SUM(asked), SUM(answered), SUM(replied),
       SUM(declined), SUM(open)
FROM text_rollup GROUP BY 1, 2, 3, 4;

CREATE TRIGGER question_rollup_insert AFTER INSERT ON questions BEGIN
    INSERT INTO question_rollup (day, category, item_id, state, n)
    VALUES (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
            NEW.category, NEW.item_id, NEW.state, 1)
    ON CONFLICT (day, category, item_id, state) DO UPDATE SET n = n + 1;
    INSERT INTO text_rollup (day, category, item_id, text, asked, answered, replied,
                             declined, open)
    SELECT CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
           NEW.category, NEW.item_id, NEW.text, 1, NEW.state = 'answered',
           NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (day, category, item_id, text) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        open = open + excluded.open;
    INSERT INTO text_week (week, category, item_id, text, asked, answered, replied,
                           declined, open)
    SELECT (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
            + 3) / 7,
           NEW.category, NEW.item_id, NEW.text, 1, NEW.state = 'answered',
           NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (week, category, item_id, text) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        open = open + excluded.open;
END;

CREATE TRIGGER question_rollup_update
AFTER UPDATE OF state, category, item_id, created_at, text ON questions
WHEN OLD.state IS NOT NEW.state OR OLD.category IS NOT NEW.category
  OR OLD.item_id IS NOT NEW.item_id OR OLD.created_at IS NOT NEW.created_at
  OR OLD.text IS NOT NEW.text
BEGIN
    UPDATE question_rollup SET n = n - 1
    WHERE day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id AND state = OLD.state;
    INSERT INTO question_rollup (day, category, item_id, state, n)
    VALUES (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
            NEW.category, NEW.item_id, NEW.state, 1)
    ON CONFLICT (day, category, item_id, state) DO UPDATE SET n = n + 1;
    UPDATE text_rollup SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id AND text = OLD.text;
    UPDATE text_week SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND week = (CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400
                        AS INTEGER) + 3) / 7
      AND category = OLD.category AND item_id = OLD.item_id AND text = OLD.text;
    INSERT INTO text_rollup (day, category, item_id, text, asked, answered, replied,
                             declined, open)
    SELECT CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
           NEW.category, NEW.item_id, NEW.text, 1, NEW.state = 'answered',
           NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (day, category, item_id, text) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        open = open + excluded.open;
    INSERT INTO text_week (week, category, item_id, text, asked, answered, replied,
                           declined, open)
    SELECT (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
            + 3) / 7,
           NEW.category, NEW.item_id, NEW.text, 1, NEW.state = 'answered',
           NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (week, category, item_id, text) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        open = open + excluded.open;
END;

CREATE TRIGGER question_rollup_delete AFTER DELETE ON questions BEGIN
    UPDATE question_rollup SET n = n - 1
    WHERE day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id AND state = OLD.state;
    UPDATE text_rollup SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id AND text = OLD.text;
    UPDATE text_week SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND week = (CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400
                        AS INTEGER) + 3) / 7
      AND category = OLD.category AND item_id = OLD.item_id AND text = OLD.text;
END;

-- Viewer counts sampled while a session is live (store/desk_records.py ViewerSample): the
-- desk's peak and average concurrent viewers per session.
CREATE TABLE viewer_samples (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    at         REAL NOT NULL,
    viewers    INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX viewer_samples_session ON viewer_samples (session_id, at);
CREATE INDEX viewer_samples_at ON viewer_samples (at);
