-- A clip cut short of what was asked (the recording never covered it) says so (issue 11).

ALTER TABLE clips ADD COLUMN note TEXT NOT NULL DEFAULT '';
