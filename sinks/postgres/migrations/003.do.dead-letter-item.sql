-- A raw record can yield several records (a hub frame's children, a logger's rows); when more than
-- one of them is refused (e.g. too late for the windows), each is its own dead letter. `item` tells
-- them apart and joins the idempotency key; '' for a dead letter of a whole raw record.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS item text NOT NULL DEFAULT '';
DO $$
DECLARE
  old_key text;
BEGIN
  FOR old_key IN
    SELECT conname FROM pg_constraint
    WHERE conrelid = 'dead_letters'::regclass AND contype = 'u' AND conname <> 'dead_letters_position_item_node'
  LOOP
    EXECUTE format('ALTER TABLE dead_letters DROP CONSTRAINT %I', old_key);
  END LOOP;
END $$;
ALTER TABLE dead_letters
  ADD CONSTRAINT dead_letters_position_item_node UNIQUE (stream, shard_id, sequence_number, sub_sequence_number, item, node);
