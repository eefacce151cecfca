-- A task created from a queued request gets the same uuids every time the
-- request is processed, so the request batch commits without waiting for the
-- WAL flush.
--
-- The request processor's transaction consumes its requests from their queue
-- (their sends were flushed) and creates their tasks. It waited for the flush
-- (about 0.45 ms of every task's first hop) because a created task is visible
-- before its commit is flushed: a client (`taskerctl task submit --wait`, a
-- worker given its first step) could see uuids that a crash would take back,
-- and the request, back in its queue, would then create the task again under
-- new ones. The uuids are now derived from the request's message:
--
-- - a task's is a version-7 uuid whose time is the message's enqueued_at (to
--   the millisecond, so keys stay time-ordered) and whose other bits come from
--   md5 of the message's key (queue and message id) and enqueued_at (to the
--   microsecond), which no other message shares; nothing of the request's
--   content goes into it;
-- - a step's has its task's time and bits from md5 of its task's uuid and its
--   position in the template (unique per task).
--
-- The processor passes each request's message as two keys of the call,
-- "message_key" and "enqueued_at", set from the queue row, never by a
-- producer. A request without them (a direct call) gets tasker_uuid_v7() as
-- before; its steps' uuids are derived from whichever uuid the task has.

-- A version-7 uuid: 12 hex digits of time (milliseconds since the epoch),
-- the version 7, and bits of md5(p_key) with the variant bits 10. One
-- expression, so the planner inlines it into the statement that calls it.
CREATE FUNCTION tasker_uuid_v7_of(p_time_hex text, p_key text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (p_time_hex || '7' || overlay(substr(md5(p_key), 14) PLACING '8' FROM 4 FOR 1))::uuid
$$;

-- The uuid of the task created from the message p_message_key enqueued at
-- p_enqueued_at (NULL when either is NULL). The key holds the instant in
-- microseconds, not its text, which depends on the session's DateStyle and
-- TimeZone.
CREATE FUNCTION tasker_task_uuid_of(p_message_key text, p_enqueued_at timestamptz)
RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT tasker_uuid_v7_of(
           lpad(to_hex(floor(extract(epoch FROM p_enqueued_at) * 1000)::bigint), 12, '0'),
           'task ' || p_message_key || ' '
             || (extract(epoch FROM p_enqueued_at) * 1000000)::bigint::text)
$$;

-- The uuid of the step at p_position of task p_task_uuid: the task's time.
CREATE FUNCTION tasker_step_uuid_of(p_task_uuid uuid, p_position integer) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT tasker_uuid_v7_of(left(replace(p_task_uuid::text, '-', ''), 12),
                           'step ' || p_task_uuid::text || ' ' || p_position::text)
$$;

-- The request processor's call, changed in place: each `old` text of its
-- definition must occur exactly once and is replaced by its `new`.
DO $$
DECLARE
  def text := pg_get_functiondef(
    'tasker_create_start_and_dispatch(jsonb,text,boolean,text,integer)'::regprocedure);
  edits text[] := '{}';
  i integer;
BEGIN
  -- The request's message is checked with its other keys.
  edits := edits || ARRAY[
$old$    WHEN coalesce(jsonb_typeof(r.req->'request_id'), 'null') NOT IN ('string', 'null')
      THEN 'request_id: expected a string'
$old$, $new$    WHEN coalesce(jsonb_typeof(r.req->'request_id'), 'null') NOT IN ('string', 'null')
      THEN 'request_id: expected a string'
    WHEN coalesce(jsonb_typeof(r.req->'message_key'), 'null') NOT IN ('string', 'null')
      THEN 'message_key: expected a string'
    WHEN coalesce(jsonb_typeof(r.req->'enqueued_at'), 'null') NOT IN ('string', 'null')
      THEN 'enqueued_at: expected a timestamp string'
$new$];
  -- The task's uuid: from its request's message when it came from a queue
  -- (the first request of the batch with its identity creates it).
  edits := edits || ARRAY[
$old$    INSERT INTO tasks (named_task_uuid, namespace_uuid, context, priority, initiator, reason,
                       request_id, identity_hash, current_state)
    SELECT DISTINCT ON (r.identity_hash) r.named_task_uuid, r.namespace_uuid, r.context,
$old$, $new$    INSERT INTO tasks (task_uuid, named_task_uuid, namespace_uuid, context, priority,
                       initiator, reason, request_id, identity_hash, current_state)
    SELECT DISTINCT ON (r.identity_hash)
           coalesce(tasker_task_uuid_of(p_requests->r.ordinal->>'message_key',
                                        (p_requests->r.ordinal->>'enqueued_at')::timestamptz),
                    tasker_uuid_v7()),
           r.named_task_uuid, r.namespace_uuid, r.context,
$new$];
  -- Each step's uuid: from its task's and its position.
  edits := edits || ARRAY[
$old$    INSERT INTO workflow_steps (task_uuid, named_step_uuid, name, handler, position, inputs,
                                retryable, retry_limit, backoff_base_ms, backoff_max_ms,
                                backoff_jitter, timeout_seconds, current_state, in_process)
    SELECT t.task_uuid, ns.named_step_uuid, ns.name, ns.handler, ns.position, ns.inputs,
$old$, $new$    INSERT INTO workflow_steps (workflow_step_uuid, task_uuid, named_step_uuid, name, handler,
                                position, inputs, retryable, retry_limit, backoff_base_ms,
                                backoff_max_ms, backoff_jitter, timeout_seconds, current_state,
                                in_process)
    SELECT tasker_step_uuid_of(t.task_uuid, ns.position), t.task_uuid, ns.named_step_uuid,
           ns.name, ns.handler, ns.position, ns.inputs,
$new$];
  FOR i IN 1 .. cardinality(edits) BY 2 LOOP
    IF (length(def) - length(replace(def, edits[i], ''))) / length(edits[i]) <> 1 THEN
      RAISE EXCEPTION '0042: tasker_create_start_and_dispatch does not hold the text this '
                      'migration replaces: %', edits[i];
    END IF;
    def := replace(def, edits[i], edits[i + 1]);
  END LOOP;
  EXECUTE def;
END
$$;
