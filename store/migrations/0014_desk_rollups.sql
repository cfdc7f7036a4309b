-- The review of any range of days without sorting strings or pivoting states (issue 14, the
-- review's "range" kind and its whole-month ranges).
--
-- ``question_rollup`` (0007) had a row per (day, category, item, state); it now has one row
-- per (day, category, item) with a column per outcome, as the review's cube reads it: a range
-- of days is a plain read of its rows in key order, with no GROUP BY and no CASE per state.
--
-- The text rollups of 0013 are re-keyed by an integer per (category, item, text), so summing
-- a range groups small integers, not (category, item_id, text). ``text_keys`` numbers each
-- (category, item_id, text) once (never deleted: a key whose questions are gone keeps zero
-- rows, as the rollups already did). ``text_rollup`` (per day) and ``text_week`` (per
-- Monday-to-Sunday week, week n starting on day 7n - 3) hold the same counts as before under
-- that number, each with an index by count. The triggers are recreated to keep all three.

DROP TRIGGER question_rollup_insert;
DROP TRIGGER question_rollup_update;
DROP TRIGGER question_rollup_delete;
DROP INDEX text_rollup_top;
DROP INDEX text_week_top;
ALTER TABLE question_rollup RENAME TO question_rollup_0007;

CREATE TABLE question_rollup (
    day      INTEGER NOT NULL,
    category TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    asked    INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    replied  INTEGER NOT NULL,
    declined INTEGER NOT NULL,
    merged   INTEGER NOT NULL,
    open     INTEGER NOT NULL,
    PRIMARY KEY (day, category, item_id)
) WITHOUT ROWID;

INSERT INTO question_rollup (day, category, item_id, asked, answered, replied, declined, merged,
                             open)
SELECT day, category, item_id, SUM(n), SUM(CASE WHEN state = 'answered' THEN n ELSE 0 END),
       SUM(CASE WHEN state = 'replied' THEN n ELSE 0 END),
       SUM(CASE WHEN state = 'declined' THEN n ELSE 0 END),
       SUM(CASE WHEN state = 'merged' THEN n ELSE 0 END),
       SUM(CASE WHEN state IN ('pending', 'queued', 'on_air') THEN n ELSE 0 END)
FROM question_rollup_0007 GROUP BY day, category, item_id;

DROP TABLE question_rollup_0007;

ALTER TABLE text_rollup RENAME TO text_rollup_0013;
DROP TABLE text_week;

CREATE TABLE text_keys (
    id       INTEGER PRIMARY KEY,
    category TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    text     TEXT NOT NULL,
    UNIQUE (category, item_id, text)
);

INSERT INTO text_keys (category, item_id, text)
SELECT DISTINCT category, item_id, text FROM text_rollup_0013 ORDER BY category, item_id, text;

CREATE TABLE text_rollup (
    day      INTEGER NOT NULL,
    k        INTEGER NOT NULL,
    asked    INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    replied  INTEGER NOT NULL,
    declined INTEGER NOT NULL,
    open     INTEGER NOT NULL,
    PRIMARY KEY (day, k)
) WITHOUT ROWID;

INSERT INTO text_rollup (day, k, asked, answered, replied, declined, open)
SELECT r.day, t.id, r.asked, r.answered, r.replied, r.declined, r.open
FROM text_rollup_0013 r JOIN text_keys t
  ON t.category = r.category AND t.item_id = r.item_id AND t.text = r.text;

DROP TABLE text_rollup_0013;

CREATE TABLE text_week (
    week     INTEGER NOT NULL,
    k        INTEGER NOT NULL,
    asked    INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    replied  INTEGER NOT NULL,
    declined INTEGER NOT NULL,
    open     INTEGER NOT NULL,
    PRIMARY KEY (week, k)
) WITHOUT ROWID;

INSERT INTO text_week (week, k, asked, answered, replied, declined, open)
SELECT (day + 3) / 7, k, SUM(asked), SUM(answered), SUM(replied), SUM(declined), SUM(open)
FROM text_rollup GROUP BY 1, 2;

CREATE INDEX text_rollup_top ON text_rollup (day, asked DESC);
CREATE INDEX text_week_top ON text_week (week, asked DESC);

CREATE TRIGGER question_rollup_insert AFTER INSERT ON questions BEGIN
    INSERT INTO question_rollup (day, category, item_id, asked, answered, replied, declined,
                                 merged, open)
    VALUES (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
            NEW.category, NEW.item_id, 1, NEW.state = 'answered', NEW.state = 'replied',
            NEW.state = 'declined', NEW.state = 'merged',
            NEW.state IN ('pending', 'queued', 'on_air'))
    ON CONFLICT (day, category, item_id) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        merged = merged + excluded.merged, open = open + excluded.open;
    INSERT INTO text_keys (category, item_id, text)
    SELECT NEW.category, NEW.item_id, NEW.text WHERE NEW.state != 'merged'
    ON CONFLICT (category, item_id, text) DO NOTHING;
    INSERT INTO text_rollup (day, k, asked, answered, replied, declined, open)
    SELECT CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
           (SELECT id FROM text_keys
            WHERE category = NEW.category AND item_id = NEW.item_id AND text = NEW.text),
           1, NEW.state = 'answered', NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (day, k) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        open = open + excluded.open;
    INSERT INTO text_week (week, k, asked, answered, replied, declined, open)
    SELECT (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
            + 3) / 7,
           (SELECT id FROM text_keys
            WHERE category = NEW.category AND item_id = NEW.item_id AND text = NEW.text),
           1, NEW.state = 'answered', NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (week, k) DO UPDATE SET
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
    UPDATE question_rollup SET asked = asked - 1,
        answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        merged = merged - (OLD.state = 'merged'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id;
    UPDATE text_rollup SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND k = (SELECT id FROM text_keys
               WHERE category = OLD.category AND item_id = OLD.item_id AND text = OLD.text);
    UPDATE text_week SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND week = (CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400
                        AS INTEGER) + 3) / 7
      AND k = (SELECT id FROM text_keys
               WHERE category = OLD.category AND item_id = OLD.item_id AND text = OLD.text);
    INSERT INTO question_rollup (day, category, item_id, asked, answered, replied, declined,
                                 merged, open)
    VALUES (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
            NEW.category, NEW.item_id, 1, NEW.state = 'answered', NEW.state = 'replied',
            NEW.state = 'declined', NEW.state = 'merged',
            NEW.state IN ('pending', 'queued', 'on_air'))
    ON CONFLICT (day, category, item_id) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        merged = merged + excluded.merged, open = open + excluded.open;
    INSERT INTO text_keys (category, item_id, text)
    SELECT NEW.category, NEW.item_id, NEW.text WHERE NEW.state != 'merged'
    ON CONFLICT (category, item_id, text) DO NOTHING;
    INSERT INTO text_rollup (day, k, asked, answered, replied, declined, open)
    SELECT CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER),
           (SELECT id FROM text_keys
            WHERE category = NEW.category AND item_id = NEW.item_id AND text = NEW.text),
           1, NEW.state = 'answered', NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (day, k) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        open = open + excluded.open;
    INSERT INTO text_week (week, k, asked, answered, replied, declined, open)
    SELECT (CAST((NEW.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
            + 3) / 7,
           (SELECT id FROM text_keys
            WHERE category = NEW.category AND item_id = NEW.item_id AND text = NEW.text),
           1, NEW.state = 'answered', NEW.state = 'replied', NEW.state = 'declined',
           NEW.state IN ('pending', 'queued', 'on_air')
    WHERE NEW.state != 'merged'
    ON CONFLICT (week, k) DO UPDATE SET
        asked = asked + 1, answered = answered + excluded.answered,
        replied = replied + excluded.replied, declined = declined + excluded.declined,
        open = open + excluded.open;
END;

CREATE TRIGGER question_rollup_delete AFTER DELETE ON questions BEGIN
    UPDATE question_rollup SET asked = asked - 1,
        answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        merged = merged - (OLD.state = 'merged'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id;
    UPDATE text_rollup SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND day = CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400 AS INTEGER)
      AND k = (SELECT id FROM text_keys
               WHERE category = OLD.category AND item_id = OLD.item_id AND text = OLD.text);
    UPDATE text_week SET asked = asked - 1, answered = answered - (OLD.state = 'answered'),
        replied = replied - (OLD.state = 'replied'),
        declined = declined - (OLD.state = 'declined'),
        open = open - (OLD.state IN ('pending', 'queued', 'on_air'))
    WHERE OLD.state != 'merged'
      AND week = (CAST((OLD.created_at + (SELECT utc_offset FROM desk_days)) / 86400
                        AS INTEGER) + 3) / 7
      AND k = (SELECT id FROM text_keys
               WHERE category = OLD.category AND item_id = OLD.item_id AND text = OLD.text);
END;
