-- Staff given a password by an admin must choose their own at their next sign-in.

ALTER TABLE staff_users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
