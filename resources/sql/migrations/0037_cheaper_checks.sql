-- Cheaper checks on the hot paths: UUID text without a regular expression,
-- and the request processor's step messages built from the step's columns.
--
-- A perf profile of a burndown put PostgreSQL's regular expressions at about
-- 4 % of its CPU time. Most of it was the UUID check,
-- '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$': an anchored match walks the
-- whole text, about 2.1 µs for a UUID on this machine whatever the pattern,
-- and it ran four times per single-step task (a worker's claim twice, a
-- result twice). tasker_is_uuid_text asks the same with a LIKE (length and
-- the four hyphens where they belong), one unanchored search for a
-- character that is neither a hex digit nor a hyphen, and the count of
-- hyphens: 0.3 µs. It is inlined, so it costs no call.
--
-- The request processor built each new step's message from the step's row
-- as JSON (to_jsonb of fifteen columns, less two keys), from which
-- tasker_step_message took the fields back: 11.7 µs per message, against
-- 5.3 µs from the columns. tasker_step_message_of builds the message from
-- its fields; tasker_step_message, which the other dispatches call with a
-- step's object, now hands that object's fields to it, so the message's
-- fields and defaults are written once (docs/wire-protocol.md).
--
-- Two statements of the processors' calls joined a batch's tasks to a list
-- of them by comparing every pair (a generic plan expects one row from each
-- side, and a nested loop is its choice): the result processor's dispatch
-- (its tasks to their names) and the attention settling (its tasks to
-- themselves), 9,900 and 4,950 comparisons for a batch of 100, most of
-- either statement's time (auto_explain). The dispatch reads each task's
-- name by its template's key, and the settling reads each task row by the
-- key of the row computed for it. Likewise, finalization wrote each task's
-- new state by searching the batch's array for the task (array_position),
-- and the tasks left to settle were the batch less the finalized ones, each
-- searched for in the other list: a join and a set difference now.

CREATE FUNCTION tasker_is_uuid_text(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT t LIKE '________-____-____-____-____________' AND t !~ '[^0-9A-Fa-f-]'
         AND length(replace(t, '-', '')) = 32
$$;

CREATE FUNCTION tasker_step_message_of(p_task_uuid uuid, p_step_uuid uuid, p_step_name text,
                                       p_handler text, p_namespace text, p_task_name text,
                                       p_inputs jsonb, p_dependency_results jsonb,
                                       p_attempts integer, p_retry_limit integer,
                                       p_timeout_seconds integer, p_context jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object(
    'task_uuid', p_task_uuid,
    'step_uuid', p_step_uuid,
    'step_name', p_step_name,
    'handler', p_handler,
    'namespace', p_namespace,
    'task_name', p_task_name,
    'inputs', CASE WHEN jsonb_typeof(p_inputs) = 'object' THEN p_inputs ELSE '{}'::jsonb END,
    'dependency_results', CASE WHEN jsonb_typeof(p_dependency_results) = 'object'
                               THEN p_dependency_results ELSE '{}'::jsonb END,
    'attempt', p_attempts + 1,
    'retry_limit', p_retry_limit,
    'timeout_seconds', p_timeout_seconds,
    'context', CASE WHEN jsonb_typeof(p_context) = 'object' THEN p_context ELSE '{}'::jsonb END)
$$;

CREATE OR REPLACE FUNCTION tasker_step_message(r jsonb, p_task_name text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT tasker_step_message_of((r->>'task_uuid')::uuid, (r->>'workflow_step_uuid')::uuid,
                                r->>'step_name', r->>'handler', r->>'namespace_name',
                                p_task_name, r->'inputs', r->'parent_results',
                                (r->>'attempts')::integer, (r->>'retry_limit')::integer,
                                (r->>'timeout_seconds')::integer, r->'task_context')
$$;

-- The worker's claim: the step message check, with its two UUID checks.
CREATE OR REPLACE FUNCTION tasker_is_step_message(m jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    jsonb_typeof(m) = 'object'
    AND jsonb_typeof(m->'task_uuid') = 'string'
    AND tasker_is_uuid_text(m->>'task_uuid')
    AND jsonb_typeof(m->'step_uuid') = 'string'
    AND tasker_is_uuid_text(m->>'step_uuid')
    AND jsonb_typeof(m->'step_name') = 'string' AND m->>'step_name' <> ''
    AND jsonb_typeof(m->'handler') = 'string' AND m->>'handler' <> ''
    AND jsonb_typeof(m->'task_name') = 'string' AND m->>'task_name' <> ''
    AND jsonb_typeof(m->'namespace') = 'string' AND m->>'namespace' ~ '^[a-z][a-z0-9_]{0,47}$'
    AND coalesce(jsonb_typeof(m->'inputs'), 'null') IN ('object', 'null')
    AND coalesce(jsonb_typeof(m->'dependency_results'), 'null') IN ('object', 'null')
    AND coalesce(jsonb_typeof(m->'context'), 'null') IN ('object', 'null')
    AND jsonb_typeof(m->'attempt') = 'number'
    AND CASE WHEN m->>'attempt' ~ '^[0-9]{1,10}$'
             THEN (m->>'attempt')::bigint BETWEEN 1 AND 2147483647 ELSE false END
    AND jsonb_typeof(m->'retry_limit') = 'number'
    AND CASE WHEN m->>'retry_limit' ~ '^[0-9]{1,10}$'
             THEN (m->>'retry_limit')::bigint BETWEEN 0 AND 2147483647 ELSE false END
    AND jsonb_typeof(m->'timeout_seconds') = 'number'
    AND CASE WHEN m->>'timeout_seconds' ~ '^[0-9]{1,10}$'
             THEN (m->>'timeout_seconds')::bigint BETWEEN 1 AND 2147483647 ELSE false END
    AND NOT jsonb_path_exists(m, 'strict $.** ? (@.type() == "number" && @.abs() >= 1e308)'),
    false)
$$;

-- The result processor's call, as in 0034 with its two UUID checks.
CREATE OR REPLACE FUNCTION tasker_apply_results_and_dispatch(p_results jsonb, p_node_id text,
                                                             p_suffix text,
                                                             p_hold_seconds integer)
RETURNS TABLE (kind text, ordinal integer, workflow_step_uuid uuid, outcome text, detail text,
               task_uuid uuid, queue_name text, to_state text, touched integer,
               locked integer, sent integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  classes tasker_result_class[];
  to_start uuid[];
  to_complete uuid[];
  complete_meta jsonb[];
  to_fail uuid[];
  fail_meta jsonb[];
  touched_tasks uuid[];
  locked_ids uuid[] := '{}';
  left_over uuid[];
  ready jsonb[];
  ns text;
  msgs jsonb[];
  nss text[];
  held uuid[];
  moving uuid[];
  busy uuid[];
  ids uuid[];
  curs text[];
  idle uuid[];
  done uuid[] := '{}';
  done_states text[] := '{}';
  rest uuid[];
BEGIN
  IF jsonb_typeof(p_results) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'step results must be a JSON array' USING ERRCODE = 'TK004';
  END IF;
  -- Task rows before step rows, in key order (as enqueuers and claimers): the
  -- tasks the batch names. The attention trigger stands aside for this
  -- function's updates of their steps: it settles the tasks itself.
  PERFORM 1 FROM tasks t
    WHERE t.task_uuid = ANY (ARRAY(
      SELECT DISTINCT (e->>'task_uuid')::uuid FROM jsonb_array_elements(p_results) AS e
      WHERE tasker_is_uuid_text(e->>'task_uuid')))
    ORDER BY t.task_uuid FOR UPDATE;
  PERFORM set_config('tasker.settling_attention', 'on', true);

  -- Each result judged against its step, locked by key in key order (as
  -- tasker_apply_step_results judges it).
  WITH input AS (
    SELECT (e.ord - 1)::integer AS ord, e.v,
           CASE WHEN tasker_is_uuid_text(e.v->>'step_uuid')
                THEN (e.v->>'step_uuid')::uuid END AS step,
           e.v->>'task_uuid' AS task
    FROM jsonb_array_elements(p_results) WITH ORDINALITY AS e(v, ord)
  ), locked AS (
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

  -- A result whose step changed state named an existing step of its task, so
  -- its task_uuid is a well-formed uuid.
  SELECT coalesce(array_agg(c.step) FILTER (WHERE c.started), '{}'),
         coalesce(array_agg(c.step) FILTER (WHERE c.outcome = 'completed'), '{}'),
         coalesce(array_agg(c.metadata) FILTER (WHERE c.outcome = 'completed'), '{}'),
         coalesce(array_agg(c.step) FILTER (WHERE c.outcome IN ('retrying', 'failed')), '{}'),
         coalesce(array_agg(c.metadata) FILTER (WHERE c.outcome IN ('retrying', 'failed')), '{}'),
         coalesce(array_agg(DISTINCT (p_results->c.ord->>'task_uuid')::uuid)
                    FILTER (WHERE c.outcome IN ('completed', 'retrying', 'failed')), '{}')
    INTO to_start, to_complete, complete_meta, to_fail, fail_meta, touched_tasks
    FROM unnest(classes) c;

  IF cardinality(to_start) > 0 THEN
    PERFORM tasker_transition_steps(to_start, 'in_progress', '{"event": "result_received"}');
  END IF;
  -- The steps completed here are locked and in_progress (moved there above
  -- when the result came first): their history rows and their rows, results
  -- included, are written here, each step row once.
  IF cardinality(to_complete) > 0 THEN
    WITH previous AS (
      UPDATE workflow_step_transitions st SET most_recent = false
       WHERE st.workflow_step_uuid = ANY (to_complete) AND st.most_recent
      RETURNING st.workflow_step_uuid, st.sort_key
    )
    INSERT INTO workflow_step_transitions
        (workflow_step_uuid, from_state, to_state, metadata, sort_key, most_recent)
      SELECT x.id, 'in_progress', 'complete', coalesce(x.meta, '{}'),
             coalesce(p.sort_key, 0) + 1, true
      FROM unnest(to_complete, complete_meta) AS x(id, meta)
      LEFT JOIN previous p ON p.workflow_step_uuid = x.id;
    UPDATE workflow_steps s
       SET current_state = 'complete', in_process = false, processed = true,
           processed_at = now(), results = coalesce(p_results->c.ord->'results', 'null'::jsonb),
           backoff_until = NULL, updated_at = now()
      FROM unnest(classes) c
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

  RETURN QUERY SELECT 'result'::text, c.ord, c.step, c.outcome, c.detail, NULL::uuid, NULL::text,
                      NULL::text, NULL::integer, NULL::integer, NULL::integer
    FROM unnest(classes) c ORDER BY c.ord;

  IF cardinality(touched_tasks) > 0 THEN
    -- The touched tasks this node may advance: unfinished, not under another
    -- node's live claim, not held by another transaction.
    SELECT coalesce(array_agg(l.task_uuid ORDER BY l.task_uuid), '{}')
      INTO locked_ids
      FROM (SELECT t.task_uuid FROM tasks t
             WHERE t.task_uuid = ANY (touched_tasks) AND t.current_state IN ('pending', 'in_progress')
               AND (t.claimed_by IS NULL OR t.claimed_by = p_node_id
                    OR t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now())
             ORDER BY t.task_uuid
             FOR UPDATE OF t SKIP LOCKED) l;
    -- The touched tasks left to others are flagged as the trigger would have
    -- (their rows are locked already), and the claim path is woken for them.
    IF cardinality(locked_ids) < cardinality(touched_tasks) THEN
      left_over := ARRAY(SELECT u FROM unnest(touched_tasks) u EXCEPT SELECT unnest(locked_ids));
      UPDATE tasks t SET needs_attention = true
        WHERE t.task_uuid = ANY (left_over) AND NOT t.needs_attention;
      PERFORM pg_notify('tasker_tasks_ready', '');
    END IF;
  END IF;
  RETURN QUERY SELECT 'touched'::text, NULL::integer, NULL::uuid, NULL::text, NULL::text,
                      NULL::uuid, NULL::text, NULL::text, cardinality(touched_tasks),
                      cardinality(locked_ids), NULL::integer;
  IF cardinality(locked_ids) = 0 THEN
    PERFORM set_config('tasker.settling_attention', 'off', true);
    RETURN;
  END IF;

  -- The dispatch of the locked tasks, as tasker_dispatch does it: their ready
  -- steps (the objects of tasker_ready_step_objects, read by key), each
  -- step's message, one batch per queue, the steps whose queue is missing
  -- held back.
  SELECT coalesce(array_agg(r.obj ORDER BY r.n), '{}'),
         coalesce(array_agg(tasker_step_message(r.obj, r.task_name) ORDER BY r.n)
                    FILTER (WHERE r.queue_exists), '{}'),
         coalesce(array_agg(r.namespace_name ORDER BY r.n) FILTER (WHERE r.queue_exists), '{}'),
         coalesce(array_agg(r.workflow_step_uuid)
                    FILTER (WHERE r.queue_exists AND r.current_state <> 'enqueued'), '{}'),
         coalesce(array_agg(r.workflow_step_uuid) FILTER (WHERE NOT r.queue_exists), '{}'),
         coalesce(array_agg(DISTINCT r.task_uuid) FILTER (WHERE r.queue_exists), '{}')
    INTO ready, msgs, nss, moving, held, busy
    -- (the window function keeps each object computed once per step: the
    -- message function is inlined, and would otherwise compute it per field)
    FROM (SELECT row_number() OVER () AS n, x.task_name, x.namespace_name,
                 x.workflow_step_uuid, x.task_uuid, x.current_state, x.queue_exists,
                 to_jsonb(x) - 'task_name' AS obj
            FROM (SELECT r.task_uuid, r.workflow_step_uuid, n.name AS namespace_name,
                         r.name AS step_name, r.handler, r.current_state, r.attempts,
                         r.retry_limit, r.timeout_seconds, r.inputs, t.context AS task_context,
                         pr.results AS parent_results,
                         EXISTS (SELECT 1 FROM tasker_mq.meta m
                                  WHERE m.queue_name = n.name || p_suffix) AS queue_exists,
                         tn.name AS task_name
                    FROM tasks t
                    JOIN named_tasks tn ON tn.named_task_uuid = t.named_task_uuid
                    JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
                    CROSS JOIN LATERAL (SELECT * FROM startable_workflow_steps r0
                                         WHERE r0.task_uuid = t.task_uuid OFFSET 0) r
                    CROSS JOIN LATERAL (
                      SELECT coalesce(jsonb_object_agg(p.name, coalesce(p.results, 'null')),
                                      '{}') AS results
                        FROM workflow_step_edges e
                        JOIN workflow_steps p ON p.workflow_step_uuid = e.from_step_uuid
                       WHERE e.to_step_uuid = r.workflow_step_uuid) pr
                   WHERE t.task_uuid = ANY (locked_ids) AND r.ready
                     AND t.current_state IN ('pending', 'in_progress')
                   ORDER BY r.task_uuid, r.position) x) r;
  FOR ns IN SELECT DISTINCT u.ns FROM unnest(nss) AS u(ns) LOOP
    -- The queue exists (tasker_mq.meta), so its name is a valid one.
    EXECUTE format('INSERT INTO tasker_mq.%I (vt, message)'
                   ' SELECT clock_timestamp(), m.message'
                   ' FROM unnest($1::jsonb[]) WITH ORDINALITY AS m(message, n) ORDER BY m.n',
                   'q_' || ns || p_suffix)
      USING CASE WHEN ns = ALL (nss) THEN msgs
                 ELSE ARRAY(SELECT u.m FROM unnest(msgs, nss) WITH ORDINALITY AS u(m, s, n)
                            WHERE u.s = ns ORDER BY u.n) END;
    PERFORM pg_notify('tasker_mq_' || ns || p_suffix, ns || p_suffix);
  END LOOP;
  IF cardinality(held) > 0 THEN
    UPDATE workflow_steps s
       SET backoff_until = now() + make_interval(secs => p_hold_seconds), updated_at = now()
     WHERE s.workflow_step_uuid = ANY (held) AND s.current_state IN ('pending', 'error');
    RETURN QUERY SELECT 'held'::text, NULL::integer, (x.r->>'workflow_step_uuid')::uuid,
                        NULL::text, NULL::text, (x.r->>'task_uuid')::uuid,
                        (x.r->>'namespace_name') || p_suffix, NULL::text, NULL::integer,
                        NULL::integer, NULL::integer
      FROM unnest(ready) WITH ORDINALITY AS x(r, n)
     WHERE NOT (x.r->>'queue_exists')::boolean
     ORDER BY x.n;
  END IF;
  -- The enqueued transition: every step was ready (pending, or error for a
  -- retry) when it was read under its task's lock, which this transaction
  -- holds. Locked in key order, as every writer of steps locks.
  IF cardinality(moving) > 0 THEN
    SELECT coalesce(array_agg(l.id ORDER BY l.id), '{}'),
           coalesce(array_agg(l.cur ORDER BY l.id), '{}')
      INTO ids, curs
      FROM (SELECT s.workflow_step_uuid AS id, s.current_state AS cur FROM workflow_steps s
             WHERE s.workflow_step_uuid = ANY (moving)
             ORDER BY s.workflow_step_uuid FOR UPDATE) l;
    IF cardinality(ids) <> cardinality(moving)
       OR EXISTS (SELECT 1 FROM unnest(curs) c WHERE c NOT IN ('pending', 'error')) THEN
      RAISE EXCEPTION 'dispatch: a step to enqueue is missing or not waiting to start'
        USING ERRCODE = 'TK001';
    END IF;
    WITH previous AS (
      UPDATE workflow_step_transitions st SET most_recent = false
       WHERE st.workflow_step_uuid = ANY (ids) AND st.most_recent
      RETURNING st.workflow_step_uuid, st.sort_key
    )
    INSERT INTO workflow_step_transitions
        (workflow_step_uuid, from_state, to_state, metadata, sort_key, most_recent)
      SELECT x.id, x.cur, 'enqueued', jsonb_build_object('event', 'enqueued', 'node_id', p_node_id),
             coalesce(p.sort_key, 0) + 1, true
      FROM unnest(ids, curs) AS x(id, cur)
      LEFT JOIN previous p ON p.workflow_step_uuid = x.id;
    UPDATE workflow_steps s
       SET current_state = 'enqueued', in_process = true, processed = false, updated_at = now()
     WHERE s.workflow_step_uuid = ANY (ids);
  END IF;
  PERFORM set_config('tasker.settling_attention', 'off', true);
  -- Then finalization of what nothing can advance any more and the attention
  -- flag of the rest. A task this call sent a step of has that step in
  -- flight: it cannot be finalized, and is not asked.
  idle := CASE WHEN cardinality(busy) = 0 THEN locked_ids
               ELSE ARRAY(SELECT unnest(locked_ids) EXCEPT SELECT unnest(busy)) END;
  -- Finalization is decided as tasker_finalize_given_tasks decides it (a task
  -- in progress with nothing in flight, ready or backing off is complete when
  -- every step is, in error when failures block it) and written here: the
  -- tasks are locked by this transaction, and in_progress may move to either.
  IF cardinality(idle) > 0 THEN
    SELECT coalesce(array_agg(x.task_uuid ORDER BY x.task_uuid), '{}'),
           coalesce(array_agg(CASE x.status WHEN 'all_complete' THEN 'complete' ELSE 'error' END
                              ORDER BY x.task_uuid), '{}')
      INTO done, done_states
      FROM tasker_task_execution_contexts(idle) x
     WHERE x.task_state = 'in_progress' AND x.enqueued_steps + x.in_progress_steps = 0
       AND x.ready_steps + x.backing_off_steps = 0
       AND x.status IN ('all_complete', 'blocked_by_failures');
    IF cardinality(done) > 0 THEN
      WITH previous AS (
        UPDATE task_transitions tt SET most_recent = false
         WHERE tt.task_uuid = ANY (done) AND tt.most_recent
        RETURNING tt.task_uuid, tt.sort_key
      )
      INSERT INTO task_transitions
          (task_uuid, from_state, to_state, metadata, sort_key, most_recent)
        SELECT x.t, 'in_progress', x.s,
               CASE x.s WHEN 'complete' THEN '{"event": "finalized"}'::jsonb
                        ELSE '{"event": "finalized", "reason": "blocked_by_failures"}'::jsonb END,
               coalesce(p.sort_key, 0) + 1, true
        FROM unnest(done, done_states) AS x(t, s)
        LEFT JOIN previous p ON p.task_uuid = x.t;
      UPDATE tasks t SET current_state = x.s, complete = x.s = 'complete', updated_at = now()
        FROM unnest(done, done_states) AS x(t, s)
       WHERE t.task_uuid = x.t;
    END IF;
  END IF;
  rest := CASE WHEN cardinality(done) = 0 THEN locked_ids
               ELSE ARRAY(SELECT unnest(locked_ids) EXCEPT SELECT unnest(done)) END;
  IF cardinality(rest) > 0 THEN
    -- A task needs attention when it has a startable step or nothing in flight.
    -- (each task row is read by the key of the row computed for it)
    UPDATE tasks t SET needs_attention = v.attention
      FROM (SELECT x.task_uuid, st.found IS NOT NULL OR fl.found IS NULL AS attention
            FROM tasks x
            LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                               WHERE r.task_uuid = x.task_uuid LIMIT 1) st ON true
            LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                               WHERE s.task_uuid = x.task_uuid AND s.in_process LIMIT 1) fl ON true
            WHERE x.task_uuid = ANY (rest)) v
     WHERE t.task_uuid = v.task_uuid AND t.needs_attention IS DISTINCT FROM v.attention;
  END IF;
  RETURN QUERY SELECT 'finalized'::text, NULL::integer, NULL::uuid, NULL::text, NULL::text, x.t,
                      NULL::text, x.s, NULL::integer, NULL::integer, NULL::integer
                 FROM unnest(done, done_states) AS x(t, s)
               UNION ALL
               SELECT 'sent'::text, NULL::integer, NULL::uuid, NULL::text, NULL::text,
                      NULL::uuid, NULL::text, NULL::text, NULL::integer, NULL::integer,
                      cardinality(msgs);
END
$$;
-- Its statements read and write the rows they are given, by their keys.
ALTER FUNCTION tasker_apply_results_and_dispatch SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off SET enable_hashjoin = on SET enable_mergejoin = off;


-- The request processor's call, as in 0034 with the messages built from the
-- columns.
CREATE OR REPLACE FUNCTION tasker_create_start_and_dispatch(p_requests jsonb, p_node_id text,
                                                            p_start boolean, p_suffix text,
                                                            p_hold_seconds integer)
RETURNS TABLE (kind text, ordinal integer, task_uuid uuid, duplicate boolean,
               workflow_step_uuid uuid, queue_name text, to_state text, sent integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  resolved tasker_resolved_request[];
  bad record;
  start_on text;
  new_tasks uuid[];
  tasks_with_steps integer;
  tasks_enqueued integer;
  edges_wanted integer;
  edges_made integer;
  msgs jsonb[] := '{}';
  nss text[];
  ns text;
  held_tasks uuid[];
  held_names text[];
  d record;
  also_sent integer := 0;
BEGIN
  IF jsonb_typeof(p_requests) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'task requests must be a JSON array' USING ERRCODE = 'TK004';
  END IF;
  SELECT r.ord - 1 AS i, r.req->>'request_id' AS rid, p.problem INTO bad
  FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, ord)
  CROSS JOIN LATERAL (SELECT CASE
    WHEN jsonb_typeof(r.req) <> 'object' THEN 'expected a JSON object'
    WHEN jsonb_typeof(r.req->'namespace') IS DISTINCT FROM 'string' THEN 'namespace: required string'
    WHEN jsonb_typeof(r.req->'task_name') IS DISTINCT FROM 'string' THEN 'task_name: required string'
    WHEN coalesce(jsonb_typeof(r.req->'task_version'), 'null') NOT IN ('string', 'null')
      THEN 'task_version: expected a string'
    WHEN coalesce(jsonb_typeof(r.req->'context'), 'null') NOT IN ('object', 'null')
      THEN 'context: expected a JSON object'
    WHEN coalesce(jsonb_typeof(r.req->'priority'), 'null') NOT IN ('number', 'null')
      THEN 'priority: expected an integer'
    WHEN jsonb_typeof(r.req->'priority') = 'number'
         AND ((r.req->>'priority')::numeric <> trunc((r.req->>'priority')::numeric)
              OR abs((r.req->>'priority')::numeric) > 2147483647)
      THEN 'priority: expected a 32-bit integer'
    WHEN coalesce(jsonb_typeof(r.req->'initiator'), 'null') NOT IN ('string', 'null')
      THEN 'initiator: expected a string'
    WHEN coalesce(jsonb_typeof(r.req->'reason'), 'null') NOT IN ('string', 'null')
      THEN 'reason: expected a string'
    WHEN coalesce(jsonb_typeof(r.req->'request_id'), 'null') NOT IN ('string', 'null')
      THEN 'request_id: expected a string'
    END AS problem) p
  WHERE p.problem IS NOT NULL
  ORDER BY r.ord LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'task request [%] (request_id %): %', bad.i, coalesce(bad.rid, 'none'),
      bad.problem USING ERRCODE = 'TK004';
  END IF;

  IF p_start THEN
    -- This transaction wakes the claimers itself, for what it leaves them,
    -- and inserts its tasks settled. New tasks start at once unless a
    -- claimable task has a ready step (tasker_claim_path_has_ready_task: it
    -- goes first, through the claim path).
    PERFORM set_config('tasker.starting_new_tasks', 'on', true);
    PERFORM set_config('tasker.settling_new_tasks', 'on', true);
    IF NOT EXISTS (
      SELECT 1 FROM tasks t
      CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                          WHERE r.task_uuid = t.task_uuid AND r.ready LIMIT 1) ok
      WHERE t.attention_unfinished AND t.claimed_by IS NULL) THEN
      start_on := p_node_id;
    END IF;
  END IF;

  -- Resolved once (templates, identity hashes; as tasker_resolve_task_requests).
  resolved := ARRAY(
    SELECT ROW(r.ord::integer - 1, n.namespace_uuid, nt.named_task_uuid,
               r.req->>'namespace', r.req->>'task_name',
               coalesce(nt.version, r.req->>'task_version'),
               coalesce(nullif(r.req->'context', 'null'), '{}'),
               coalesce((r.req->>'priority')::integer, 0),
               coalesce(r.req->>'initiator', ''), coalesce(r.req->>'reason', ''),
               r.req->>'request_id',
               -- jsonb text is canonical, so equal contexts hash equally
               encode(sha256(convert_to((r.req->>'namespace') || '/' || (r.req->>'task_name')
                                        || '@' || nt.version || ':'
                                        || coalesce(nullif(r.req->'context', 'null'),
                                                    '{}')::text,
                                        'UTF8')), 'hex'))::tasker_resolved_request
    FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, ord)
    LEFT JOIN namespaces n ON n.name = r.req->>'namespace'
    LEFT JOIN LATERAL (
      SELECT t.named_task_uuid, t.version FROM named_tasks t
      WHERE t.namespace_uuid = n.namespace_uuid AND t.name = r.req->>'task_name'
        AND (r.req->>'task_version' IS NULL OR t.version = r.req->>'task_version')
      ORDER BY t.created_at DESC, t.version DESC LIMIT 1
    ) nt ON true);
  SELECT r.ordinal AS i, r.request_id AS rid, r.namespace_name AS ns, r.task_name AS name,
         r.task_version AS version, r.namespace_uuid IS NULL AS no_namespace INTO bad
  FROM unnest(resolved) r
  WHERE r.named_task_uuid IS NULL ORDER BY r.ordinal LIMIT 1;
  IF FOUND THEN
    IF bad.no_namespace THEN
      RAISE EXCEPTION 'task request [%] (request_id %): unknown namespace "%"', bad.i,
        coalesce(bad.rid, 'none'), bad.ns USING ERRCODE = 'TK002';
    END IF;
    RAISE EXCEPTION 'task request [%] (request_id %): unknown task template %/%@%', bad.i,
      coalesce(bad.rid, 'none'), bad.ns, bad.name, coalesce(bad.version, '<latest>')
      USING ERRCODE = 'TK002';
  END IF;

  -- Each new row's history is written by the statement that creates the row:
  -- its creation, and when it starts at once its start as well.
  WITH inserted AS (
    INSERT INTO tasks (named_task_uuid, namespace_uuid, context, priority, initiator, reason,
                       request_id, identity_hash, current_state)
    SELECT DISTINCT ON (r.identity_hash) r.named_task_uuid, r.namespace_uuid, r.context,
           r.priority, r.initiator, r.reason, r.request_id, r.identity_hash,
           CASE WHEN start_on IS NULL THEN 'pending' ELSE 'in_progress' END
    FROM unnest(resolved) r
    ORDER BY r.identity_hash, r.ordinal
    ON CONFLICT (identity_hash) DO NOTHING
    RETURNING tasks.task_uuid
  ), history AS (
    INSERT INTO task_transitions (task_uuid, from_state, to_state, metadata, sort_key,
                                  most_recent)
    SELECT i.task_uuid, NULL, 'pending', '{"event": "created"}', 1, start_on IS NULL
      FROM inserted i
    UNION ALL
    SELECT i.task_uuid, 'pending', 'in_progress',
           jsonb_build_object('event', 'started', 'node_id', start_on), 2, true
      FROM inserted i WHERE start_on IS NOT NULL
  )
  SELECT coalesce(array_agg(i.task_uuid), '{}') INTO new_tasks FROM inserted i;

  -- A root step of a task that starts at once, whose namespace queue exists,
  -- is inserted enqueued: its message is sent below.
  WITH steps AS (
    INSERT INTO workflow_steps (task_uuid, named_step_uuid, name, handler, position, inputs,
                                retryable, retry_limit, backoff_base_ms, backoff_max_ms,
                                backoff_jitter, timeout_seconds, current_state, in_process)
    SELECT t.task_uuid, ns.named_step_uuid, ns.name, ns.handler, ns.position, ns.inputs,
           ns.retryable, ns.retry_limit, ns.backoff_base_ms, ns.backoff_max_ms,
           ns.backoff_jitter, ns.timeout_seconds,
           CASE WHEN e.enqueue THEN 'enqueued' ELSE 'pending' END, e.enqueue
    FROM tasks t JOIN named_steps ns ON ns.named_task_uuid = t.named_task_uuid
    CROSS JOIN LATERAL (
      SELECT start_on IS NOT NULL AND coalesce(cardinality(ns.depends_on), 0) = 0
             AND (p_suffix IS NULL OR EXISTS (
                   SELECT 1 FROM namespaces n JOIN tasker_mq.meta m
                     ON m.queue_name = n.name || p_suffix
                   WHERE n.namespace_uuid = t.namespace_uuid)) AS enqueue) e
    WHERE t.task_uuid = ANY (new_tasks)
    RETURNING workflow_steps.workflow_step_uuid, workflow_steps.task_uuid,
              workflow_steps.current_state
  ), history AS (
    INSERT INTO workflow_step_transitions
        (workflow_step_uuid, from_state, to_state, metadata, sort_key, most_recent)
    SELECT s.workflow_step_uuid, NULL, 'pending', '{"event": "created"}', 1,
           s.current_state = 'pending'
      FROM steps s
    UNION ALL
    SELECT s.workflow_step_uuid, 'pending', 'enqueued',
           jsonb_build_object('event', 'enqueued', 'node_id', start_on), 2, true
      FROM steps s WHERE s.current_state = 'enqueued'
  )
  SELECT count(DISTINCT s.task_uuid),
         count(DISTINCT s.task_uuid) FILTER (WHERE s.current_state = 'enqueued')
    INTO tasks_with_steps, tasks_enqueued FROM steps s;
  IF p_start THEN
    PERFORM set_config('tasker.settling_new_tasks', 'off', true);
  END IF;

  -- A registered template is validated, so a task without steps, or a
  -- dependency that does not resolve to an earlier step, means the stored
  -- rows were damaged: refuse the batch. The diagnosis runs only then.
  IF tasks_with_steps < cardinality(new_tasks) THEN
    SELECT n.name AS ns, nt.name, nt.version INTO bad
    FROM tasks t JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
    JOIN namespaces n ON n.namespace_uuid = nt.namespace_uuid
    WHERE t.task_uuid = ANY (new_tasks)
      AND NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.task_uuid = t.task_uuid)
    LIMIT 1;
    RAISE EXCEPTION 'task template %/%@% is corrupt: it has no steps', bad.ns, bad.name,
      bad.version USING ERRCODE = 'TK004';
  END IF;
  WITH wanted AS (
    SELECT c.task_uuid, c.workflow_step_uuid, c.position, d.dep
    FROM workflow_steps c
    JOIN named_steps s ON s.named_step_uuid = c.named_step_uuid
    CROSS JOIN LATERAL unnest(s.depends_on) AS d(dep)
    WHERE c.task_uuid = ANY (new_tasks)
  ), made AS (
    INSERT INTO workflow_step_edges (task_uuid, from_step_uuid, to_step_uuid)
    SELECT w.task_uuid, p.workflow_step_uuid, w.workflow_step_uuid
    FROM wanted w
    JOIN workflow_steps p ON p.task_uuid = w.task_uuid AND p.name = w.dep
                         AND p.position < w.position
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM wanted), (SELECT count(*) FROM made)
    INTO edges_wanted, edges_made;
  IF edges_made < edges_wanted THEN
    SELECT n.name AS ns, nt.name, nt.version, c.name AS step, d.dep INTO bad
    FROM workflow_steps c
    JOIN named_steps s ON s.named_step_uuid = c.named_step_uuid
    JOIN named_tasks nt ON nt.named_task_uuid = s.named_task_uuid
    JOIN namespaces n ON n.namespace_uuid = nt.namespace_uuid
    CROSS JOIN LATERAL unnest(s.depends_on) AS d(dep)
    WHERE c.task_uuid = ANY (new_tasks)
      AND NOT EXISTS (SELECT 1 FROM workflow_steps p WHERE p.task_uuid = c.task_uuid
                      AND p.name = d.dep AND p.position < c.position)
    LIMIT 1;
    RAISE EXCEPTION 'task template %/%@% is corrupt: step "%" depends on "%", which is not an '
                    'earlier step', bad.ns, bad.name, bad.version, bad.step, bad.dep
      USING ERRCODE = 'TK004';
  END IF;

  RETURN QUERY
  SELECT 'created'::text, r.ordinal, t.task_uuid,
         NOT (t.task_uuid = ANY (new_tasks))
           OR r.ordinal <> min(r.ordinal) OVER (PARTITION BY r.identity_hash),
         NULL::uuid, NULL::text, NULL::text, NULL::integer
  FROM unnest(resolved) r
  JOIN tasks t ON t.identity_hash = r.identity_hash
  ORDER BY r.ordinal;

  IF p_start AND cardinality(new_tasks) > 0 AND start_on IS NULL THEN
    -- Left to the claim path: flagged, and the claimers woken.
    UPDATE tasks t SET needs_attention = true WHERE t.task_uuid = ANY (new_tasks);
    PERFORM pg_notify('tasker_tasks_ready', '');
  ELSIF start_on IS NOT NULL AND cardinality(new_tasks) > 0 THEN
    -- The dispatch of the started tasks, as tasker_dispatch does it: the root
    -- steps created enqueued (their queues exist), in the template's order; a
    -- root step has no dependency results.
    SELECT coalesce(array_agg(tasker_step_message_of(s.task_uuid, s.workflow_step_uuid, s.name,
                                                     s.handler, n.name, nt.name, s.inputs,
                                                     '{}'::jsonb, s.attempts, s.retry_limit,
                                                     s.timeout_seconds, t.context)
                              ORDER BY s.task_uuid, s.position), '{}'),
           coalesce(array_agg(n.name ORDER BY s.task_uuid, s.position), '{}')
      INTO msgs, nss
      FROM tasks t
      JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
      JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
      -- Each task's steps by its key; the state is tested outside the fence,
      -- so no index on steps in flight can stand in (0029).
      CROSS JOIN LATERAL (SELECT * FROM workflow_steps s0
                           WHERE s0.task_uuid = t.task_uuid OFFSET 0) s
     WHERE t.task_uuid = ANY (new_tasks) AND s.current_state = 'enqueued';
    FOR ns IN SELECT DISTINCT u.ns FROM unnest(nss) AS u(ns) LOOP
      -- The queue exists (tasker_mq.meta), so its name is a valid one.
      EXECUTE format('INSERT INTO tasker_mq.%I (vt, message)'
                     ' SELECT clock_timestamp(), m.message'
                     ' FROM unnest($1::jsonb[]) WITH ORDINALITY AS m(message, n) ORDER BY m.n',
                     'q_' || ns || p_suffix)
        USING CASE WHEN ns = ALL (nss) THEN msgs
                   ELSE ARRAY(SELECT u.m FROM unnest(msgs, nss) WITH ORDINALITY AS u(m, s, n)
                              WHERE u.s = ns ORDER BY u.n) END;
      PERFORM pg_notify('tasker_mq_' || ns || p_suffix, ns || p_suffix);
    END LOOP;
    -- A task none of whose roots was created enqueued has a missing queue:
    -- it is dispatched as the enqueuer dispatches a task (tasker_dispatch:
    -- its ready roots held back and named, or sent should the queue have
    -- appeared since).
    IF tasks_enqueued < tasks_with_steps THEN
      SELECT coalesce(array_agg(t.task_uuid ORDER BY t.task_uuid), '{}'),
             coalesce(array_agg(nt.name ORDER BY t.task_uuid), '{}')
        INTO held_tasks, held_names
        FROM tasks t JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
       WHERE t.task_uuid = ANY (new_tasks)
         AND NOT EXISTS (SELECT 1 FROM workflow_steps s
                          WHERE s.task_uuid = t.task_uuid AND s.current_state = 'enqueued');
      FOR d IN SELECT x.kind, x.task_uuid, x.workflow_step_uuid, x.queue_name, x.sent
                 FROM tasker_dispatch(held_tasks, held_names, NULL, p_node_id, p_suffix, false,
                                      p_hold_seconds) x LOOP
        IF d.kind = 'sent' THEN
          also_sent := d.sent;
        ELSE
          RETURN QUERY SELECT d.kind, NULL::integer, d.task_uuid, NULL::boolean,
                              d.workflow_step_uuid, d.queue_name, NULL::text, NULL::integer;
        END IF;
      END LOOP;
    END IF;
    -- A task needs attention when it has a startable step or nothing in flight.
    -- (each task row is read by the key of the row computed for it)
    UPDATE tasks t SET needs_attention = v.attention
      FROM (SELECT x.task_uuid, st.found IS NOT NULL OR fl.found IS NULL AS attention
            FROM tasks x
            LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                               WHERE r.task_uuid = x.task_uuid LIMIT 1) st ON true
            LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                               WHERE s.task_uuid = x.task_uuid AND s.in_process LIMIT 1) fl ON true
            WHERE x.task_uuid = ANY (new_tasks)) v
     WHERE t.task_uuid = v.task_uuid AND t.needs_attention IS DISTINCT FROM v.attention;
  END IF;
  RETURN QUERY SELECT 'sent'::text, NULL::integer, NULL::uuid, NULL::boolean, NULL::uuid,
                      NULL::text, NULL::text, cardinality(msgs) + also_sent;
END
$$;
-- Its statements read and write the rows they are given, by their keys.
ALTER FUNCTION tasker_create_start_and_dispatch SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;

