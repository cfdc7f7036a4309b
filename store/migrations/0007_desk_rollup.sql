-- The review's counts by (day, category, item, state), kept up to date by triggers in the
-- same transaction as every question write, so reading a week is a few thousand rows, not
-- every question of it. ``day`` is days since the epoch in Beijing time (UTC+8), the desk's
-- time zone; store/aggregates_sqlite.py reads it for windows aligned to those days.

CREATE TABLE question_rollup (
    day      INTEGER NOT NULL,
    category TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    state    TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, category, item_id, state)
) WITHOUT ROWID;

INSERT INTO question_rollup (day, category, item_id, state, n)
SELECT CAST((created_at + 28800) / 86400 AS INTEGER), category, item_id, state, COUNT(*)
FROM questions GROUP BY 1, 2, 3, 4;

CREATE TRIGGER question_rollup_insert AFTER INSERT ON questions BEGIN
    INSERT INTO question_rollup (day, category, item_id, state, n)
    VALUES (CAST((NEW.created_at + 28800) / 86400 AS INTEGER), NEW.category, NEW.item_id,
            NEW.state, 1)
    ON CONFLICT (day, category, item_id, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER question_rollup_update
AFTER UPDATE OF state, category, item_id, created_at ON questions
WHEN OLD.state IS NOT NEW.state OR OLD.category IS NOT NEW.category
  OR OLD.item_id IS NOT NEW.item_id OR OLD.created_at IS NOT NEW.created_at
BEGIN
    UPDATE question_rollup SET n = n - 1
    WHERE day = CAST((OLD.created_at + 28800) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id AND state = OLD.state;
    INSERT INTO question_rollup (day, category, item_id, state, n)
    VALUES (CAST((NEW.created_at + 28800) / 86400 AS INTEGER), NEW.category, NEW.item_id,
            NEW.state, 1)
    ON CONFLICT (day, category, item_id, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER question_rollup_delete AFTER DELETE ON questions BEGIN
    UPDATE question_rollup SET n = n - 1
    WHERE day = CAST((OLD.created_at + 28800) / 86400 AS INTEGER)
      AND category = OLD.category AND item_id = OLD.item_id AND state = OLD.state;
END;
