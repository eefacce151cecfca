-- A step result completes its step in one write of the step row.
--
-- tasker_apply_step_results moved each completed step with
-- tasker_transition_steps_each (which checked the target state, locked the
-- rows a second time and checked each move) and then wrote the results with
-- a second update of the same rows: two versions of every completed step
-- row, two statements joining the batch. The steps it completes are locked
-- by its first statement and in_progress by then, and in_progress ->
-- complete is always allowed (0001_core.sql), so it now writes their history
-- rows (tasker_append_step_history, 0027) and one update that sets the state
-- and the results together. Failed
-- and retried attempts go through the transition as before. Same signature,
-- results and errors; the settings of 0012 and 0016 are restated (CREATE OR
-- REPLACE resets them).

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
      JOIN jsonb_array_elements(p_results) WITH ORDINALITY AS e(v, ord) ON e.ord - 1 = c.ord
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
      JOIN jsonb_array_elements(p_results) WITH ORDINALITY AS e(v, ord) ON e.ord - 1 = c.ord
     WHERE s.workflow_step_uuid = c.step AND c.outcome IN ('retrying', 'failed');
  END IF;

  RETURN QUERY SELECT c.ord, c.step, c.outcome, c.detail FROM unnest(classes) c ORDER BY c.ord;
END
$$;

ALTER FUNCTION tasker_apply_step_results SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;
