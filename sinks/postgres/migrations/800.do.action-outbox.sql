-- The transactional outbox of actions that follow alarms (actions/outbox/). A row is written in the
-- same transaction as the alarm event that causes it, keyed by its idempotency key
-- (`episode/step/channel:target`): a replayed event inserts nothing (`ON CONFLICT DO NOTHING`).
-- Delays (escalation steps, reminders, the check that a remote fix worked) are due times, so they
-- survive restarts. Any worker delivers due rows, claimed with `FOR UPDATE SKIP LOCKED`.
CREATE TABLE IF NOT EXISTS action_outbox (
  action_key  text        PRIMARY KEY,
  episode_id  text        NOT NULL,
  -- notify | remind | clear | shadow | firmware | verify | dispatch | engineer | workflow | digest
  kind        text        NOT NULL,
  -- the channel it is delivered on: sns | email | webhook | shadow | firmware | workflow, or outbox
  -- for the steps the deliverer does itself (verify, dispatch)
  channel     text        NOT NULL,
  customer_id text,
  device_id   text,
  product_id  text,
  payload     jsonb       NOT NULL,
  due_at      timestamptz NOT NULL,
  -- pending | sent | cancelled | failed | skipped | digested | expired
  status      text        NOT NULL DEFAULT 'pending',
  -- an acknowledgement (or the episode ending) cancels it while pending: escalation steps, reminders
  stop_on_ack boolean     NOT NULL DEFAULT false,
  attempts    integer     NOT NULL DEFAULT 0,
  last_error  text,
  -- what the service answered (message id, job id, shadow version), or why it was skipped
  result      text,
  -- the digest a notification was folded into by the per-customer flood control
  digest_key  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  done_at     timestamptz
);
CREATE INDEX IF NOT EXISTS action_outbox_due ON action_outbox (due_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS action_outbox_episode ON action_outbox (episode_id);
-- flood control counts a customer's recent notifications; guard rails a device's recent commands
CREATE INDEX IF NOT EXISTS action_outbox_customer_done ON action_outbox (customer_id, done_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS action_outbox_device_done ON action_outbox (device_id, kind, done_at) WHERE status = 'sent';
CREATE INDEX IF NOT EXISTS action_outbox_digest ON action_outbox (digest_key) WHERE digest_key IS NOT NULL;
