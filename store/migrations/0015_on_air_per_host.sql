-- One question on air per host (issue 15): the session's on-air pointers, host id → question
-- id (JSON). A question already on air keeps its place, under its host ("" for none).

ALTER TABLE broadcasts ADD COLUMN on_air_ids TEXT NOT NULL DEFAULT '{}';

UPDATE broadcasts
   SET on_air_ids = json_object(
           COALESCE((SELECT host_id FROM questions WHERE questions.id = broadcasts.on_air_id), ''),
           on_air_id)
 WHERE on_air_id != '';
