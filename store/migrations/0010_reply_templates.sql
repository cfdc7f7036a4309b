-- Canned replies live beside the decline reasons: one table of templates, told apart by kind.
ALTER TABLE reason_templates ADD COLUMN kind TEXT NOT NULL DEFAULT 'decline';
