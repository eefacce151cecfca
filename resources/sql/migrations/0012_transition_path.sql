-- The transition path in fewer statements, with plans that stay index probes.
--
-- Profiles of a burndown showed the transition functions spending most of
-- their time in plans chosen for tables far smaller than the ones they ran
-- on: "update the listed steps" became a hash join over a sequential scan of
-- every step (live and dead row versions), and the existence check another.
-- The statistics that drive those choices lag a burst of new work by design
-- (autovacuum analyzes after the fact), and a batch of transitions touches
-- at most a few hundred given rows, so these functions pin their plans to
-- index access: SET enable_seqscan, enable_hashjoin and enable_mergejoin off
-- for the duration of the call (a table without a usable index is still
-- scanned; the settings only make the planner prefer any index path).
--
-- tasker_transition_steps_each / tasker_transition_tasks: one statement locks
-- the rows in key order and reads their states and whether the move is
-- allowed (it was three: lock, existence, legality); the update that clears
-- the previous `most_recent` flag returns that row's sort_key, so the new
-- history row needs no second probe for max(sort_key). Same errors, same
-- codes, same results as 0001_core.sql.
--
-- tasker_transition_steps_each takes one metadata object per step, so a step
-- result's history row is written once with what the worker reported (it was
-- written and then updated). tasker_apply_step_results no longer raises
-- tasker_tasks_ready: the result processor advances and finalizes the tasks
-- it touched in the same transaction, and notifies only when some of them
-- were left to other executors (they were locked elsewhere or claimed by
-- another node). Every result batch used to wake every claimer, enqueuer and
-- finalizer for nothing.

CREATE FUNCTION tasker_transition_steps_each(p_step_uuids uuid[], p_to_state text,
                                             p_metadata jsonb[])
RETURNS TABLE (workflow_step_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  ids uuid[];
  curs text[];
  oks boolean[];
  metas jsonb[];
  i integer;
  bad record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM step_states s WHERE s.state = p_to_state) THEN
    RAISE EXCEPTION 'unknown step state "%"', p_to_state USING ERRCODE = 'TK004';
  END IF;
  -- Locked in key order, so two batches over the same steps cannot deadlock;
  -- a uuid listed twice counts once, with its first metadata.
  SELECT array_agg(u.id ORDER BY u.id), array_agg(s.cur ORDER BY u.id),
         array_agg(s.ok ORDER BY u.id), array_agg(u.meta ORDER BY u.id)
    INTO ids, curs, oks, metas
    FROM (SELECT DISTINCT ON (x.id) x.id, coalesce(x.meta, '{}') AS meta
          FROM unnest(p_step_uuids, p_metadata) WITH ORDINALITY AS x(id, meta, n)
          WHERE x.id IS NOT NULL
          ORDER BY x.id, x.n) u
    LEFT JOIN LATERAL (
      SELECT s.current_state AS cur,
             EXISTS (SELECT 1 FROM allowed_step_transitions a
                     WHERE a.from_state = s.current_state AND a.to_state = p_to_state) AS ok
      FROM workflow_steps s WHERE s.workflow_step_uuid = u.id
      FOR UPDATE OF s) s ON true;
  IF ids IS NULL THEN
    RETURN;
  END IF;
  i := array_position(curs, NULL);
  IF i IS NOT NULL THEN
    RAISE EXCEPTION 'workflow step % does not exist', ids[i] USING ERRCODE = 'TK002';
  END IF;
  i := array_position(oks, false);
  IF i IS NOT NULL THEN
    SELECT s.name, s.task_uuid INTO bad FROM workflow_steps s
      WHERE s.workflow_step_uuid = ids[i];
    RAISE EXCEPTION 'workflow step % (''%'' of task %): illegal transition from % to %',
      ids[i], bad.name, bad.task_uuid, curs[i], p_to_state USING ERRCODE = 'TK001';
  END IF;

  WITH previous AS (
    UPDATE workflow_step_transitions st SET most_recent = false
     WHERE st.workflow_step_uuid = ANY (ids) AND st.most_recent
    RETURNING st.workflow_step_uuid, st.sort_key
  )
  INSERT INTO workflow_step_transitions
      (workflow_step_uuid, from_state, to_state, metadata, sort_key, most_recent)
    SELECT x.id, x.cur, p_to_state, x.meta, coalesce(p.sort_key, 0) + 1, true
    FROM unnest(ids, curs, metas) AS x(id, cur, meta)
    LEFT JOIN previous p ON p.workflow_step_uuid = x.id;

  UPDATE workflow_steps s
     SET current_state = p_to_state,
         in_process = p_to_state IN ('enqueued', 'in_progress'),
         attempts = s.attempts + CASE WHEN p_to_state = 'in_progress' THEN 1 ELSE 0 END,
         last_attempted_at = CASE WHEN p_to_state = 'in_progress' THEN now()
                                  ELSE s.last_attempted_at END,
         processed = p_to_state IN ('complete', 'resolved_manually'),
         processed_at = CASE WHEN p_to_state IN ('complete', 'resolved_manually') THEN now()
                             ELSE s.processed_at END,
         updated_at = now()
   WHERE s.workflow_step_uuid = ANY (ids);

  RETURN QUERY SELECT x.id, x.cur, p_to_state FROM unnest(ids, curs) AS x(id, cur);
END
$$;

CREATE OR REPLACE FUNCTION tasker_transition_steps(p_step_uuids uuid[], p_to_state text,
                                                   p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (workflow_step_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT * FROM tasker_transition_steps_each(
    p_step_uuids, p_to_state,
    array_fill(coalesce(p_metadata, '{}'::jsonb),
               ARRAY[coalesce(cardinality(p_step_uuids), 0)]));
END
$$;

CREATE OR REPLACE FUNCTION tasker_transition_tasks(p_task_uuids uuid[], p_to_state text,
                                                   p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (task_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  ids uuid[];
  curs text[];
  oks boolean[];
  i integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM task_states s WHERE s.state = p_to_state) THEN
    RAISE EXCEPTION 'unknown task state "%"', p_to_state USING ERRCODE = 'TK004';
  END IF;
  -- Locked in key order, so two batches over the same tasks cannot deadlock.
  SELECT array_agg(u.id ORDER BY u.id), array_agg(t.cur ORDER BY u.id),
         array_agg(t.ok ORDER BY u.id)
    INTO ids, curs, oks
    FROM (SELECT DISTINCT x.id FROM unnest(p_task_uuids) AS x(id)
          WHERE x.id IS NOT NULL ORDER BY x.id) u
    LEFT JOIN LATERAL (
      SELECT t.current_state AS cur,
             EXISTS (SELECT 1 FROM allowed_task_transitions a
                     WHERE a.from_state = t.current_state AND a.to_state = p_to_state) AS ok
      FROM tasks t WHERE t.task_uuid = u.id
      FOR UPDATE OF t) t ON true;
  IF ids IS NULL THEN
    RETURN;
  END IF;
  i := array_position(curs, NULL);
  IF i IS NOT NULL THEN
    RAISE EXCEPTION 'task % does not exist', ids[i] USING ERRCODE = 'TK002';
  END IF;
  i := array_position(oks, false);
  IF i IS NOT NULL THEN
    RAISE EXCEPTION 'task %: illegal transition from % to %', ids[i], curs[i], p_to_state
      USING ERRCODE = 'TK001';
  END IF;

  WITH previous AS (
    UPDATE task_transitions tt SET most_recent = false
     WHERE tt.task_uuid = ANY (ids) AND tt.most_recent
    RETURNING tt.task_uuid, tt.sort_key
  )
  INSERT INTO task_transitions (task_uuid, from_state, to_state, metadata, sort_key, most_recent)
    SELECT x.id, x.cur, p_to_state, coalesce(p_metadata, '{}'), coalesce(p.sort_key, 0) + 1, true
    FROM unnest(ids, curs) AS x(id, cur)
    LEFT JOIN previous p ON p.task_uuid = x.id;

  UPDATE tasks t
     SET current_state = p_to_state,
         complete = p_to_state IN ('complete', 'resolved_manually'),
         updated_at = now()
   WHERE t.task_uuid = ANY (ids);

  RETURN QUERY SELECT x.id, x.cur, p_to_state FROM unnest(ids, curs) AS x(id, cur);
END
$$;

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
         coalesce(array_agg(c.metadata) FILTER (WHERE c.outcome = 'completed'), '{}'),
         coalesce(array_agg(c.step) FILTER (WHERE c.outcome IN ('retrying', 'failed')), '{}'),
         coalesce(array_agg(c.metadata) FILTER (WHERE c.outcome IN ('retrying', 'failed')), '{}')
    INTO to_start, to_complete, complete_meta, to_fail, fail_meta
    FROM unnest(classes) c;

  IF cardinality(to_start) > 0 THEN
    PERFORM tasker_transition_steps(to_start, 'in_progress', '{"event": "result_received"}');
  END IF;
  -- Each transition carries what the worker reported about its attempt.
  IF cardinality(to_complete) > 0 THEN
    PERFORM tasker_transition_steps_each(to_complete, 'complete', complete_meta);
  END IF;
  IF cardinality(to_fail) > 0 THEN
    PERFORM tasker_transition_steps_each(to_fail, 'error', fail_meta);
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

  END IF;

  RETURN QUERY SELECT c.ord, c.step, c.outcome, c.detail FROM unnest(classes) c ORDER BY c.ord;
END
$$;

-- Functions that only touch the rows they are given: index plans only.
ALTER FUNCTION tasker_transition_steps_each SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_transition_tasks SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_apply_step_results SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_lock_result_tasks SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_lock_tasks_for_advance SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_finalize_given_tasks SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_settle_attention SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_steps_need_attention SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_step_states SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_task_states SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_release_claims SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION tasker_extend_claims SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
