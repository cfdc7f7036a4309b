-- The desk's figures and exports (store/aggregates*.py): questions, clips and sessions by
-- time; a question's first triage decision in the audit log by target.

-- Covering: the review reads only these columns of a period's questions.
CREATE INDEX IF NOT EXISTS questions_created ON questions (created_at, state, category, item_id, text);
CREATE INDEX IF NOT EXISTS clips_created ON clips (created_at);
CREATE INDEX IF NOT EXISTS broadcasts_created ON broadcasts (created_at);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, at);
CREATE INDEX IF NOT EXISTS search_misses_last ON search_misses (last_at);
