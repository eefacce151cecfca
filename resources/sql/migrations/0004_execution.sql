-- Execution: what the orchestration executors do in one statement each —
-- claim and start tasks, lock this node's claims for enqueueing, apply a batch
-- of step results, rescue stranded steps, finalize finished tasks — plus the
-- `tasker_tasks_ready` notification that wakes claimers and finalizers.
--
-- Every function works on a whole batch; state changes go through
-- tasker_transition_tasks / tasker_transition_steps (one call per target
-- state), so the state machines and histories stay enforced in one place.

-- -- wake-ups ----------------------------------------------------------------

-- Raised (once per statement, PostgreSQL folds repeats within a transaction)
-- whenever claimable work may have appeared.
CREATE FUNCTION tasker_notify_tasks_ready() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tasker_tasks_ready', '');
  RETURN NULL;
END
$$;

-- Tasks created by any path (executor, CLI, tests) wake the claimers.
CREATE TRIGGER tasks_created_notify AFTER INSERT ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_notify_tasks_ready();

-- -- indexes -----------------------------------------------------------------

-- Steps that still occupy a task; the finalizer looks for tasks without any.
CREATE INDEX workflow_steps_active_idx ON workflow_steps (task_uuid)
  WHERE current_state IN ('pending', 'enqueued', 'in_progress');
-- Steps in flight by age, for the rescue sweep.
CREATE INDEX workflow_steps_in_flight_idx ON workflow_steps (updated_at)
  WHERE current_state IN ('enqueued', 'in_progress');
-- The enqueuer reads only its own node's claims.
CREATE INDEX tasks_claimed_by_idx ON tasks (claimed_by) WHERE claimed_by IS NOT NULL;

-- -- claims ------------------------------------------------------------------

-- Claims ready tasks (tasker_claim_ready_tasks) and moves the pending ones
-- among them to in_progress; `started` tells which.
CREATE FUNCTION tasker_claim_and_start_tasks(p_node_id text, p_limit integer,
                                             p_claim_timeout_seconds integer,
                                             p_aging_seconds double precision DEFAULT 60)
RETURNS TABLE (task_uuid uuid, namespace_name text, started boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  claimed uuid[];
  ns text[];
  to_start uuid[];
BEGIN
  SELECT coalesce(array_agg(c.task_uuid), '{}'), coalesce(array_agg(c.namespace_name), '{}')
    INTO claimed, ns
    FROM tasker_claim_ready_tasks(p_node_id, p_limit, p_claim_timeout_seconds, p_aging_seconds) c;
  SELECT coalesce(array_agg(t.task_uuid), '{}') INTO to_start
    FROM tasks t WHERE t.task_uuid = ANY (claimed) AND t.current_state = 'pending';
  IF cardinality(to_start) > 0 THEN
    PERFORM tasker_transition_tasks(to_start, 'in_progress',
                                    jsonb_build_object('event', 'claimed', 'node_id', p_node_id));
  END IF;
  RETURN QUERY
  SELECT c.id, c.ns, c.id = ANY (to_start) FROM unnest(claimed, ns) AS c(id, ns);
END
$$;

-- Locks up to p_limit tasks that p_node_id holds a claim on, skipping rows
-- another transaction holds: two enqueuers never work on the same task, so
-- never send the same step twice.
CREATE FUNCTION tasker_lock_claimed_tasks(p_node_id text, p_limit integer)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text)
LANGUAGE sql AS $$
  WITH locked AS (
    SELECT t.task_uuid, t.namespace_uuid, t.named_task_uuid FROM tasks t
    WHERE t.claimed_by = p_node_id AND t.current_state IN ('pending', 'in_progress')
    ORDER BY t.claimed_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT l.task_uuid, n.name, nt.name FROM locked l
  JOIN namespaces n ON n.namespace_uuid = l.namespace_uuid
  JOIN named_tasks nt ON nt.named_task_uuid = l.named_task_uuid
$$;

-- -- step results ------------------------------------------------------------

-- How one result of a batch was classified.
CREATE TYPE tasker_result_class AS (
  ord integer, step uuid, outcome text, detail text, started boolean, metadata jsonb
);

-- Applies a batch of step results (a JSON array of wire step_result objects)
-- in a fixed number of statements. Outcome per element (ordinal from 0):
--   completed     success: the step is complete with the results
--   retrying      failure: the step is in error and ready again after its backoff
--   failed        failure with retryable=false or no attempts left: permanent
--   duplicate     the step is not waiting for a result (already complete, failed
--                 for that attempt, cancelled, rescued) or repeats an earlier
--                 element of the batch: nothing changes
--   stale         the result names an attempt other than the current one
--   unknown_step  no such step in that task: the caller archives the message
-- An enqueued step passes through in_progress (counting its attempt) so the
-- history shows the attempt. Backoff (ms) = min(base * 2^(attempts-1), max)
-- * (1 + jitter * u), u uniform in [-1, 1]; retry_after_seconds wins.
CREATE FUNCTION tasker_apply_step_results(p_results jsonb)
RETURNS TABLE (ordinal integer, workflow_step_uuid uuid, outcome text, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  classes tasker_result_class[];
  to_start uuid[];
  to_complete uuid[];
  to_fail uuid[];
BEGIN
  IF jsonb_typeof(p_results) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'step results must be a JSON array' USING ERRCODE = 'TK004';
  END IF;

  WITH input AS (
    SELECT (e.ord - 1)::integer AS ord, e.v,
           CASE WHEN e.v->>'step_uuid' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                THEN (e.v->>'step_uuid')::uuid END AS step,
           e.v->>'task_uuid' AS task
    FROM jsonb_array_elements(p_results) WITH ORDINALITY AS e(v, ord)
  ), locked AS (
    -- fixed lock order: two result batches touching the same steps cannot deadlock
    SELECT s.* FROM workflow_steps s
    WHERE s.workflow_step_uuid IN (SELECT i.step FROM input i)
    ORDER BY s.workflow_step_uuid FOR UPDATE
  ), judged AS (
    SELECT i.ord, i.step, s.current_state AS cur,
           s.attempts + CASE WHEN s.current_state = 'enqueued' THEN 1 ELSE 0 END AS attempt_now,
           CASE
             WHEN s.workflow_step_uuid IS NULL OR s.task_uuid::text IS DISTINCT FROM lower(i.task)
               THEN 'unknown_step'
             WHEN s.current_state NOT IN ('enqueued', 'in_progress') THEN 'duplicate'
             WHEN jsonb_typeof(i.v->'attempt') = 'number'
                  AND (i.v->>'attempt')::numeric <> s.attempts
                      + CASE WHEN s.current_state = 'enqueued' THEN 1 ELSE 0 END
               THEN 'stale'
             WHEN i.v->>'status' = 'success' THEN 'completed'
             WHEN i.v->'error'->'retryable' = 'false'::jsonb
                  OR s.attempts + CASE WHEN s.current_state = 'enqueued' THEN 1 ELSE 0 END
                     >= s.retry_limit
                  OR NOT s.retryable
               THEN 'failed'
             ELSE 'retrying'
           END AS outcome,
           i.v, s.current_state = 'enqueued' AS was_enqueued
    FROM input i LEFT JOIN locked s ON s.workflow_step_uuid = i.step
  ), classified AS (
    -- only the first applicable result of a step in the batch applies
    SELECT j.ord, j.step, j.cur, j.attempt_now, j.v, j.was_enqueued,
           CASE WHEN j.outcome IN ('completed', 'retrying', 'failed')
                     AND j.ord <> min(j.ord) FILTER (
                       WHERE j.outcome IN ('completed', 'retrying', 'failed'))
                       OVER (PARTITION BY j.step)
                THEN 'duplicate' ELSE j.outcome END AS outcome
    FROM judged j
  )
  SELECT coalesce(array_agg(ROW(
           c.ord, c.step, c.outcome,
           CASE c.outcome
             WHEN 'unknown_step' THEN format('unknown step %s of task %s',
                                             coalesce(c.v->>'step_uuid', '<none>'),
                                             coalesce(c.v->>'task_uuid', '<none>'))
             WHEN 'duplicate' THEN CASE WHEN c.cur IN ('enqueued', 'in_progress')
                                   THEN 'repeats an earlier result in the batch'
                                   ELSE format('step is already %s', c.cur) END
             WHEN 'stale' THEN format('result for attempt %s, step is at attempt %s',
                                      c.v->>'attempt', c.attempt_now)
           END,
           c.was_enqueued AND c.outcome IN ('completed', 'retrying', 'failed'),
           jsonb_strip_nulls(jsonb_build_object(
             'event', 'step_result', 'attempt', c.attempt_now,
             'execution_time_ms', c.v->'execution_time_ms', 'worker', c.v->'worker',
             'error', c.v->'error', 'retry_after_seconds', c.v->'retry_after_seconds'))
         )::tasker_result_class ORDER BY c.ord), '{}')
    INTO classes FROM classified c;

  SELECT coalesce(array_agg(c.step) FILTER (WHERE c.started), '{}'),
         coalesce(array_agg(c.step) FILTER (WHERE c.outcome = 'completed'), '{}'),
         coalesce(array_agg(c.step) FILTER (WHERE c.outcome IN ('retrying', 'failed')), '{}')
    INTO to_start, to_complete, to_fail
    FROM unnest(classes) c;

  IF cardinality(to_start) > 0 THEN
    PERFORM tasker_transition_steps(to_start, 'in_progress', '{"event": "result_received"}');
  END IF;
  IF cardinality(to_complete) > 0 THEN
    PERFORM tasker_transition_steps(to_complete, 'complete', '{"event": "step_result"}');
  END IF;
  IF cardinality(to_fail) > 0 THEN
    PERFORM tasker_transition_steps(to_fail, 'error', '{"event": "step_result"}');
  END IF;

  IF cardinality(to_complete) + cardinality(to_fail) > 0 THEN
    UPDATE workflow_steps s
       SET results = CASE WHEN c.outcome = 'completed'
                          THEN coalesce(e.v->'results', 'null'::jsonb)
                          ELSE jsonb_build_object('error', e.v->'error',
                                                  'results', e.v->'results') END,
           retryable = CASE WHEN c.outcome = 'failed' AND e.v->'error'->'retryable' = 'false'
                            THEN false ELSE s.retryable END,
           backoff_until = CASE
             WHEN c.outcome <> 'retrying' THEN NULL
             WHEN jsonb_typeof(e.v->'retry_after_seconds') = 'number'
               THEN now() + make_interval(secs => (e.v->>'retry_after_seconds')::double precision)
             ELSE now() + make_interval(secs => least(
                    s.backoff_base_ms * power(2::double precision, greatest(s.attempts - 1, 0)),
                    s.backoff_max_ms::double precision)
                  * (1 + s.backoff_jitter * (2 * random() - 1)) / 1000.0)
           END,
           updated_at = now()
      FROM unnest(classes) c
      JOIN jsonb_array_elements(p_results) WITH ORDINALITY AS e(v, ord) ON e.ord - 1 = c.ord
     WHERE s.workflow_step_uuid = c.step AND c.outcome IN ('completed', 'retrying', 'failed');

    -- the transition just written carries what the worker reported
    UPDATE workflow_step_transitions h SET metadata = h.metadata || c.metadata
      FROM unnest(classes) c
     WHERE h.workflow_step_uuid = c.step AND h.most_recent
       AND c.outcome IN ('completed', 'retrying', 'failed');

    PERFORM pg_notify('tasker_tasks_ready', '');
  END IF;

  RETURN QUERY SELECT c.ord, c.step, c.outcome, c.detail FROM unnest(classes) c ORDER BY c.ord;
END
$$;

-- -- rescue ------------------------------------------------------------------

-- Steps stranded in flight longer than their timeout_seconds (a worker died,
-- a message was lost) are rescued in one sweep: an enqueued step goes back to
-- pending; a step in progress goes back to pending while it has attempts
-- left (the attempt it started still counts), and to error (permanent) when
-- it has none, so repeated crashes cannot retry forever. At most p_limit.
CREATE FUNCTION tasker_rescue_stale_steps(p_limit integer)
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
    WHERE s.current_state IN ('enqueued', 'in_progress')
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

-- -- finalization ------------------------------------------------------------

-- Finalizes up to p_limit in-progress tasks that nothing can advance any
-- more: no step in flight and no step startable (checked through the
-- active-steps index before any context is computed). All steps complete →
-- complete; otherwise (failed or cancelled steps block the rest) → error.
CREATE FUNCTION tasker_finalize_tasks(p_limit integer)
RETURNS TABLE (task_uuid uuid, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  done uuid[];
  blocked uuid[];
BEGIN
  WITH candidates AS (
    SELECT t.task_uuid FROM tasks t
    WHERE t.current_state = 'in_progress'
      AND NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.task_uuid = t.task_uuid
                        AND s.current_state IN ('enqueued', 'in_progress'))
      AND NOT EXISTS (SELECT 1 FROM startable_workflow_steps r WHERE r.task_uuid = t.task_uuid)
    ORDER BY t.updated_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT coalesce(array_agg(x.task_uuid) FILTER (WHERE x.status = 'all_complete'), '{}'),
         coalesce(array_agg(x.task_uuid) FILTER (WHERE x.status = 'blocked_by_failures'), '{}')
    INTO done, blocked
    FROM tasker_task_execution_contexts((SELECT coalesce(array_agg(c.task_uuid), '{}')
                                         FROM candidates c)) x;

  RETURN QUERY SELECT r.task_uuid, r.to_state
    FROM tasker_transition_tasks(done, 'complete', '{"event": "finalized"}') r
    WHERE cardinality(done) > 0;
  RETURN QUERY SELECT r.task_uuid, r.to_state
    FROM tasker_transition_tasks(blocked, 'error',
                                 '{"event": "finalized", "reason": "blocked_by_failures"}') r
    WHERE cardinality(blocked) > 0;
END
$$;
