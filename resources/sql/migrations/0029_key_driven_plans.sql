-- Statements that are given their rows stay on those rows' keys.
--
-- The hot functions run with plan_cache_mode = force_generic_plan (0016): a
-- connection plans each statement once and keeps the plan. A node's
-- connections make those plans when they first run, which after a quiet
-- spell or on a new database is when the tables are nearly empty, and a
-- plan made then is kept while a burst fills them. Under such plans these
-- statements read far more than the rows they were given:
--
-- * tasks_unfinished_idx (every pending or in_progress task, by priority)
--   matched any statement that names tasks by key and also tests for an
--   unfinished state: ready steps, locking a result batch's tasks, the
--   finalization's execution contexts, the claim's lapsed claims. Planned
--   on an empty table it looked cheapest, and in a burndown of 10,000 tasks
--   each call scanned every unfinished task and compared it with the
--   batch's keys. Nothing needs the index: claims read tasks_claimable_idx
--   (0007), which covers the same order for the tasks a claim can take. It
--   is dropped, which also saves an index entry for every new task.
-- * The steps that a started task's creation enqueued were read through
--   workflow_steps_in_flight_idx, every step in flight, instead of by task.
--   They are now read per task behind a fence (OFFSET 0), with the state
--   tested outside it, so only an index keyed by task can serve the read.
-- * Without that index, tasker_ready_steps (which has no settings of its
--   own and runs under its callers') and the claim (which leaves the planner
--   free) scanned every task instead. Both now run with sequential scans
--   off: every table read in them has an index made for it.
-- * Joins of a batch with rows already in memory compared every pair, hash
--   and merge joins being off (0012): tasker_apply_step_results joined the
--   batch's classes with its elements by ordinal, twice, and the batch with
--   the steps it had locked; the history writers joined the rows they were
--   given with the previous history rows they had just updated (the
--   transitions of steps and tasks, and tasker_append_step_history);
--   tasker_settle_attention joined the tasks it was given with themselves.
--   Each class now takes its element by position (p_results -> ordinal),
--   and these functions may hash: their table reads are lookups by key,
--   which no join method changes (the result batch's steps are locked one
--   key at a time, in key order, as tasker_transition_tasks locks tasks).
--
-- Same signatures and results; the functions restated here get their
-- settings again (CREATE OR REPLACE resets them).

DROP INDEX tasks_unfinished_idx;

ALTER FUNCTION tasker_append_step_history SET enable_hashjoin = on;
ALTER FUNCTION tasker_transition_tasks SET enable_hashjoin = on;
ALTER FUNCTION tasker_transition_steps_each SET enable_hashjoin = on;
ALTER FUNCTION tasker_settle_attention SET enable_hashjoin = on;

-- Ready steps of the tasks it is given, by their keys whatever the caller's
-- settings (without the index above, a plan made on a small table scanned
-- every task).
ALTER FUNCTION tasker_ready_steps SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off;

-- The claim reads each of its sets through the index made for it
-- (tasks_claimable_idx, tasks_claimed_by_idx, primary keys); a plan made on a
-- small table read the lapsed claims by scanning every task.
ALTER FUNCTION tasker_claim_ready_tasks SET enable_seqscan = off;

CREATE OR REPLACE FUNCTION tasker_create_and_start_tasks(p_requests jsonb, p_node_id text,
                                                         p_start boolean, p_queue_suffix text)
RETURNS TABLE (ordinal integer, task_uuid uuid, duplicate boolean, namespace_name text,
               task_name text, ready jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  ords integer[];
  ids uuid[];
  dups boolean[];
  fresh uuid[];
  started uuid[] := '{}';
  started_ns text[];
  started_names text[];
  start_on text;
BEGIN
  IF p_start THEN
    -- This transaction wakes the claimers itself (0015), for what it leaves
    -- them, and inserts its tasks settled.
    PERFORM set_config('tasker.starting_new_tasks', 'on', true);
    PERFORM set_config('tasker.settling_new_tasks', 'on', true);
    -- New tasks start at once unless another claimable task has a ready
    -- step (it goes first, through the claim path; 0013).
    IF NOT tasker_claim_path_has_ready_task('{}') THEN
      start_on := p_node_id;
    END IF;
  END IF;
  SELECT coalesce(array_agg(c.ordinal ORDER BY c.ordinal), '{}'),
         coalesce(array_agg(c.task_uuid ORDER BY c.ordinal), '{}'),
         coalesce(array_agg(c.duplicate ORDER BY c.ordinal), '{}'),
         coalesce(array_agg(DISTINCT c.task_uuid) FILTER (WHERE NOT c.duplicate), '{}')
    INTO ords, ids, dups, fresh
    FROM tasker_create_tasks(p_requests, start_on, p_queue_suffix) c;
  IF p_start THEN
    PERFORM set_config('tasker.settling_new_tasks', 'off', true);
  END IF;
  RETURN QUERY SELECT x.o, x.t, x.d, NULL::text, NULL::text, NULL::jsonb
    FROM unnest(ords, ids, dups) AS x(o, t, d) ORDER BY x.o;
  IF NOT p_start OR cardinality(fresh) = 0 THEN
    RETURN;
  END IF;
  IF start_on IS NULL THEN
    -- Left to the claim path: flagged, and the claimers woken.
    UPDATE tasks t SET needs_attention = true WHERE t.task_uuid = ANY (fresh);
    PERFORM pg_notify('tasker_tasks_ready', '');
    RETURN;
  END IF;
  SELECT coalesce(array_agg(t.task_uuid ORDER BY t.task_uuid), '{}'),
         array_agg(n.name ORDER BY t.task_uuid), array_agg(nt.name ORDER BY t.task_uuid)
    INTO started, started_ns, started_names
    FROM tasks t
    JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
    JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
    WHERE t.task_uuid = ANY (fresh);
  IF cardinality(started) > 0 THEN
    RETURN QUERY SELECT NULL::integer, x.t, NULL::boolean, x.n, x.nm, NULL::jsonb
      FROM unnest(started, started_ns, started_names) AS x(t, n, nm);
    -- The root steps created enqueued (their queues exist), then the ready
    -- ones: roots whose queue is missing, which the processor holds back.
    RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::boolean, NULL::text, NULL::text,
                        to_jsonb(x) || '{"queue_exists": true}'::jsonb
      FROM (SELECT s.task_uuid, s.workflow_step_uuid, n.name AS namespace_name,
                   s.name AS step_name, s.handler, s.current_state, s.attempts, s.retry_limit,
                   s.timeout_seconds, s.inputs, t.context AS task_context,
                   '{}'::jsonb AS parent_results
            FROM tasks t
            JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
            -- Each task's steps by its key; the state is tested outside the
            -- fence, so no index on steps in flight can stand in (0029).
            CROSS JOIN LATERAL (SELECT s0.* FROM workflow_steps s0
                                WHERE s0.task_uuid = t.task_uuid OFFSET 0) s
            WHERE t.task_uuid = ANY (started) AND s.current_state = 'enqueued'
            ORDER BY s.task_uuid, s.position) x;
    RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::boolean, NULL::text, NULL::text, r.obj
      FROM tasker_ready_step_objects(started, p_queue_suffix) r(obj);
  END IF;
END
$$;

-- Its own statements touch only the new tasks (and the claimable ones, through
-- their partial index): index plans, as 0012.
ALTER FUNCTION tasker_create_and_start_tasks SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;

CREATE OR REPLACE FUNCTION tasker_apply_step_results(p_results jsonb)
RETURNS TABLE (ordinal integer, workflow_step_uuid uuid, outcome text, detail text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  classes tasker_result_class[];
  to_start uuid[];
  to_complete uuid[];
  complete_meta jsonb[];
  to_fail uuid[];
  fail_meta jsonb[];
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
    -- fixed lock order: two result batches touching the same steps cannot
    -- deadlock; each step locked through its key
    SELECT s.* FROM (SELECT DISTINCT i.step FROM input i
                     WHERE i.step IS NOT NULL ORDER BY i.step) u
    CROSS JOIN LATERAL (SELECT s0.* FROM workflow_steps s0
                        WHERE s0.workflow_step_uuid = u.step FOR UPDATE OF s0) s
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
         coalesce(array_agg(c.metadata) FILTER (WHERE c.outcome = 'completed'), '{}'),
         coalesce(array_agg(c.step) FILTER (WHERE c.outcome IN ('retrying', 'failed')), '{}'),
         coalesce(array_agg(c.metadata) FILTER (WHERE c.outcome IN ('retrying', 'failed')), '{}')
    INTO to_start, to_complete, complete_meta, to_fail, fail_meta
    FROM unnest(classes) c;

  IF cardinality(to_start) > 0 THEN
    PERFORM tasker_transition_steps(to_start, 'in_progress', '{"event": "result_received"}');
  END IF;
  -- Each transition carries what the worker reported about its attempt. The
  -- steps completed here are locked and in_progress (moved there above when
  -- the result came first), and in_progress -> complete is always allowed:
  -- their history rows and their rows, results included, are written here,
  -- each step row once.
  IF cardinality(to_complete) > 0 THEN
    PERFORM tasker_append_step_history(to_complete, 'in_progress', 'complete', complete_meta);
    UPDATE workflow_steps s
       SET current_state = 'complete', in_process = false, processed = true,
           processed_at = now(), results = coalesce(e.v->'results', 'null'::jsonb),
           backoff_until = NULL, updated_at = now()
      FROM unnest(classes) c
      CROSS JOIN LATERAL (SELECT p_results -> c.ord AS v) e
     WHERE s.workflow_step_uuid = c.step AND c.outcome = 'completed';
  END IF;
  IF cardinality(to_fail) > 0 THEN
    PERFORM tasker_transition_steps_each(to_fail, 'error', fail_meta);
    UPDATE workflow_steps s
       SET results = jsonb_build_object('error', e.v->'error', 'results', e.v->'results'),
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
      CROSS JOIN LATERAL (SELECT p_results -> c.ord AS v) e
     WHERE s.workflow_step_uuid = c.step AND c.outcome IN ('retrying', 'failed');
  END IF;

  RETURN QUERY SELECT c.ord, c.step, c.outcome, c.detail FROM unnest(classes) c ORDER BY c.ord;
END
$$;

-- Its joins between the batch and the rows it has locked may hash (its table
-- reads are key lookups, which no join method changes).
ALTER FUNCTION tasker_apply_step_results SET enable_seqscan = off SET enable_hashjoin = on
  SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;
