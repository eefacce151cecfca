-- Starting a step rewrites its row in place.
--
-- A worker's claim moves each of its steps from enqueued to in_progress
-- (current_state, attempts, last_attempted_at, updated_at). PostgreSQL can
-- write such an update as a heap-only tuple, on the same page and with no
-- new index entries, only when no index refers to a column it changes, in
-- its key or in its predicate. Three indexes on workflow_steps did:
-- startable and active (predicates on current_state) and in-flight (keyed by
-- updated_at, predicate on current_state). So every start added five index
-- entries and wrote the new row version to another page: about seven WAL
-- records per step started, where a heap-only update writes two.
--
-- The two flags that follow the state stand in for it in the predicates:
-- in_process (enqueued or in_progress) and processed (complete or
-- resolved_manually). Every writer already set them with the state; a check
-- now makes them exactly the state's, so an index on them selects the same
-- rows. Starting a step changes neither.
--
-- * workflow_steps_startable_idx: steps neither in process nor processed
--   (pending, error, cancelled), by task. The readiness view tests
--   processed too, so its probes use the index.
-- * workflow_steps_in_flight_idx: steps in process, by task. It replaces
--   the active index (whose pending steps only the operator's actions, which
--   read a task's steps by the task's key, asked for) and the in-flight index
--   by age. The rescue sweep reads the steps in process through it and
--   orders them by age itself, which costs one read of every step in flight
--   per sweep (every 5 s per claimer).
-- * fillfactor 50: a page keeps room for a new version of each row inserted
--   on it, so a claim of the steps created together finds space for them.
--
-- Same signatures and results; the functions restated here get their
-- settings again (CREATE OR REPLACE resets them).

ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_process_flags_check
  CHECK (in_process = (current_state IN ('enqueued', 'in_progress'))
         AND processed = (current_state IN ('complete', 'resolved_manually')));

ALTER TABLE workflow_steps SET (fillfactor = 50);

DROP INDEX workflow_steps_startable_idx;
DROP INDEX workflow_steps_active_idx;
DROP INDEX workflow_steps_in_flight_idx;
CREATE INDEX workflow_steps_startable_idx ON workflow_steps (task_uuid)
  WHERE NOT in_process AND NOT processed;
CREATE INDEX workflow_steps_in_flight_idx ON workflow_steps (task_uuid) WHERE in_process;

CREATE OR REPLACE VIEW startable_workflow_steps AS
SELECT s.workflow_step_uuid, s.task_uuid, s.name, s.handler, s.position, s.current_state,
       s.attempts, s.retry_limit, s.timeout_seconds, s.inputs, s.backoff_until,
       (s.backoff_until IS NULL OR s.backoff_until <= now()) AS ready
FROM workflow_steps s
WHERE s.current_state IN ('pending', 'error') AND NOT s.in_process AND NOT s.processed
  AND (s.current_state = 'pending' OR (s.retryable AND s.attempts < s.retry_limit))
  AND NOT EXISTS (
    SELECT 1 FROM workflow_step_edges e
    JOIN workflow_steps p ON p.workflow_step_uuid = e.from_step_uuid
    WHERE e.to_step_uuid = s.workflow_step_uuid
      AND p.current_state NOT IN ('complete', 'resolved_manually'));

CREATE OR REPLACE FUNCTION tasker_settle_attention(p_task_uuids uuid[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tasks t SET needs_attention = v.attention
    FROM (SELECT x.task_uuid, st.found IS NOT NULL OR fl.found IS NULL AS attention
          FROM tasks x
          LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                             WHERE r.task_uuid = x.task_uuid LIMIT 1) st ON true
          LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                             WHERE s.task_uuid = x.task_uuid AND s.in_process LIMIT 1) fl ON true
          WHERE x.task_uuid = ANY (p_task_uuids)) v
   WHERE t.task_uuid = ANY (p_task_uuids) AND t.task_uuid = v.task_uuid
     AND t.needs_attention IS DISTINCT FROM v.attention;
END
$$;
ALTER FUNCTION tasker_settle_attention SET enable_seqscan = off SET enable_hashjoin = on
  SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;

CREATE OR REPLACE FUNCTION tasker_finalize_tasks(p_limit integer)
RETURNS TABLE (task_uuid uuid, to_state text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH candidates AS (
    SELECT t.task_uuid FROM tasks t
    LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                       WHERE s.task_uuid = t.task_uuid AND s.in_process LIMIT 1) fl ON true
    LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                       WHERE r.task_uuid = t.task_uuid LIMIT 1) st ON true
    WHERE t.needs_attention AND t.current_state = 'in_progress'
      AND fl.found IS NULL AND st.found IS NULL
    ORDER BY t.updated_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT f.task_uuid, f.to_state
  FROM tasker_finalize_given_tasks((SELECT coalesce(array_agg(c.task_uuid), '{}')
                                    FROM candidates c)) f;
END
$$;

CREATE OR REPLACE FUNCTION tasker_rescue_stale_steps(p_limit integer)
RETURNS TABLE (workflow_step_uuid uuid, task_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  lost uuid[];
  died uuid[];
  exhausted uuid[];
BEGIN
  WITH stale AS (
    SELECT s.workflow_step_uuid AS id, s.current_state AS cur,
           s.attempts >= s.retry_limit OR NOT s.retryable AS spent
    FROM workflow_steps s
    WHERE s.in_process
      AND s.updated_at + make_interval(secs => s.timeout_seconds) < now()
    ORDER BY s.updated_at
    LIMIT greatest(p_limit, 0)
    FOR UPDATE SKIP LOCKED
  )
  SELECT coalesce(array_agg(id) FILTER (WHERE cur = 'enqueued'), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cur = 'in_progress' AND NOT spent), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cur = 'in_progress' AND spent), '{}')
    INTO lost, died, exhausted FROM stale;

  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state
    FROM tasker_transition_steps(lost, 'pending', jsonb_build_object('event', 'rescued',
           'reason', 'enqueued longer than its timeout: step message lost or never taken')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(lost) > 0;
  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state
    FROM tasker_transition_steps(died, 'pending', jsonb_build_object('event', 'rescued',
           'reason', 'in progress longer than its timeout: worker died or timed out')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(died) > 0;
  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state
    FROM tasker_transition_steps(exhausted, 'error', jsonb_build_object('event', 'rescued',
           'reason', 'in progress longer than its timeout with no attempts left')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(exhausted) > 0;

  IF cardinality(lost) + cardinality(died) + cardinality(exhausted) > 0 THEN
    PERFORM pg_notify('tasker_tasks_ready', '');
  END IF;
END
$$;
