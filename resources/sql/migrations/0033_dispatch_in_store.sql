-- Step dispatch in one call, step messages built where the steps are read.
--
-- Sending the ready steps of a batch took the node a round trip per namespace
-- queue and one more to finish the dispatch, after the ready steps had come
-- to it as JSON: it parsed each one, built the step message and sent the
-- text back to be parsed again. tasker_dispatch does all of it in the
-- caller's transaction: it builds each message from the ready step, inserts
-- one batch per queue (with the queue's notification), holds back the steps
-- whose queue does not exist, moves the sent steps to enqueued and settles
-- (or finalizes) the tasks. The request and result processors call it from
-- the functions that create or advance their batch, so their whole batch is
-- one statement between reading its messages and the commit.
--
-- tasker_dispatch writes the enqueued transition and the attention update
-- itself, where tasker_finish_dispatch called the generic transition and
-- tasker_settle_attention (both dropped: nothing else calls them). In a
-- transaction of one result each nested PL/pgSQL call costs tens of
-- microseconds, and the generic transition checks again what the dispatch
-- knows (the steps are ready under their tasks' locks).

-- The step message of a ready step (an object of tasker_ready_step_objects,
-- or of the steps a task's creation enqueued) as docs/wire-protocol.md
-- describes it: inputs, dependency_results and context are objects ({} when
-- the stored value is not), attempt is the attempt the message starts.
-- STABLE, as jsonb_build_object is: a function declared more strictly than
-- its body is not inlined, and a SQL function that is not inlined plans its
-- body again in every statement that calls it.
CREATE FUNCTION tasker_step_message(r jsonb, p_task_name text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object(
    'task_uuid', r->'task_uuid',
    'step_uuid', r->'workflow_step_uuid',
    'step_name', r->'step_name',
    'handler', r->'handler',
    'namespace', r->'namespace_name',
    'task_name', p_task_name,
    'inputs', CASE WHEN jsonb_typeof(r->'inputs') = 'object' THEN r->'inputs'
                   ELSE '{}'::jsonb END,
    'dependency_results', CASE WHEN jsonb_typeof(r->'parent_results') = 'object'
                               THEN r->'parent_results' ELSE '{}'::jsonb END,
    'attempt', (r->>'attempts')::integer + 1,
    'retry_limit', (r->>'retry_limit')::integer,
    'timeout_seconds', (r->>'timeout_seconds')::integer,
    'context', CASE WHEN jsonb_typeof(r->'task_context') = 'object' THEN r->'task_context'
                    ELSE '{}'::jsonb END)
$$;

-- Sends the ready steps of p_tasks (rows this transaction holds locked; their
-- template names in p_task_names, in the same order) and finishes the
-- dispatch. p_ready: the ready step objects, or NULL to read them here.
-- A step created enqueued has only its message sent; the others move to
-- enqueued with metadata naming p_node_id. A step whose queue
-- (namespace || p_suffix) does not exist is not sent: its backoff_until moves
-- p_hold_seconds ahead and a row names it (kind 'held': task, step, queue).
-- Then every task is settled, or with p_finalize finalized when nothing can
-- advance it (kind 'finalized': task, to_state). The last row (kind 'sent')
-- counts the messages sent.
CREATE FUNCTION tasker_dispatch(p_tasks uuid[], p_task_names text[], p_ready jsonb[],
                                p_node_id text, p_suffix text, p_finalize boolean,
                                p_hold_seconds integer)
RETURNS TABLE (kind text, task_uuid uuid, workflow_step_uuid uuid, queue_name text,
               to_state text, sent integer)
LANGUAGE plpgsql AS $$
DECLARE
  ns text;
  msgs jsonb[];
  nss text[];
  n_sent integer := 0;
  held uuid[];
  moving uuid[];
  ids uuid[];
  curs text[];
  done uuid[] := '{}';
  done_states text[] := '{}';
  rest uuid[];
  busy uuid[];
  idle uuid[];
BEGIN
  IF coalesce(cardinality(p_tasks), 0) = 0 THEN
    RETURN QUERY SELECT 'sent'::text, NULL::uuid, NULL::uuid, NULL::text, NULL::text, 0;
    RETURN;
  END IF;
  IF p_ready IS NULL THEN
    p_ready := ARRAY(SELECT r.obj FROM tasker_ready_step_objects(p_tasks, p_suffix) r(obj));
  END IF;
  -- The messages of the steps whose queue exists, in the order of the ready
  -- steps (per task, in the template's order), built here, where the plan is
  -- kept; the inserts below name their queue, so each is planned at every
  -- call and is kept to the least a plan needs.
  SELECT coalesce(array_agg(tasker_step_message(x.r, tn.name) ORDER BY x.n), '{}'),
         coalesce(array_agg(x.r->>'namespace_name' ORDER BY x.n), '{}')
    INTO msgs, nss
    FROM unnest(p_ready) WITH ORDINALITY AS x(r, n)
    LEFT JOIN unnest(p_tasks, p_task_names) AS tn(t, name)
      ON tn.t = (x.r->>'task_uuid')::uuid
   WHERE coalesce((x.r->>'queue_exists')::boolean, true);
  -- One batch per queue; a batch names one namespace almost always.
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
  n_sent := cardinality(msgs);
  -- The sent steps that were not created enqueued move to enqueued; the
  -- steps whose queue is missing are held back.
  SELECT coalesce(array_agg((x.r->>'workflow_step_uuid')::uuid)
                    FILTER (WHERE coalesce((x.r->>'queue_exists')::boolean, true)
                              AND x.r->>'current_state' <> 'enqueued'), '{}'),
         coalesce(array_agg((x.r->>'workflow_step_uuid')::uuid)
                    FILTER (WHERE NOT coalesce((x.r->>'queue_exists')::boolean, true)), '{}'),
         coalesce(array_agg(DISTINCT (x.r->>'task_uuid')::uuid)
                    FILTER (WHERE coalesce((x.r->>'queue_exists')::boolean, true)), '{}')
    INTO moving, held, busy
    FROM unnest(p_ready) AS x(r);
  -- The tasks are locked and settled below: the attention trigger stands
  -- aside for this function's updates of their steps.
  PERFORM set_config('tasker.settling_attention', 'on', true);
  IF cardinality(held) > 0 THEN
    UPDATE workflow_steps s
       SET backoff_until = now() + make_interval(secs => p_hold_seconds), updated_at = now()
     WHERE s.workflow_step_uuid = ANY (held) AND s.current_state IN ('pending', 'error');
    RETURN QUERY SELECT 'held'::text, (x.r->>'task_uuid')::uuid,
                        (x.r->>'workflow_step_uuid')::uuid,
                        (x.r->>'namespace_name') || p_suffix, NULL::text, NULL::integer
      FROM unnest(p_ready) WITH ORDINALITY AS x(r, n)
     WHERE NOT coalesce((x.r->>'queue_exists')::boolean, true)
     ORDER BY x.n;
  END IF;
  -- The enqueued transition, written here: every step was ready (pending,
  -- or error for a retry) when it was read under its task's lock, which this
  -- transaction holds. Locked in key order, as every writer of steps locks.
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
  -- Then finalization (with p_finalize) and the attention flag of the rest.
  -- A task this call sent a step of has that step in flight: it cannot be
  -- finalized, and is not asked.
  idle := CASE WHEN cardinality(busy) = 0 THEN p_tasks
               ELSE ARRAY(SELECT u FROM unnest(p_tasks) u WHERE NOT (u = ANY (busy))) END;
  IF p_finalize AND cardinality(idle) > 0 THEN
    SELECT coalesce(array_agg(f.task_uuid), '{}'), coalesce(array_agg(f.to_state), '{}')
      INTO done, done_states
      FROM tasker_finalize_given_tasks(idle) f;
    RETURN QUERY SELECT 'finalized'::text, x.t, NULL::uuid, NULL::text, x.s, NULL::integer
      FROM unnest(done, done_states) AS x(t, s);
  END IF;
  rest := CASE WHEN cardinality(done) = 0 THEN p_tasks
               ELSE ARRAY(SELECT u FROM unnest(p_tasks) u WHERE NOT (u = ANY (done))) END;
  IF cardinality(rest) > 0 THEN
    -- A task needs attention when it has a startable step or nothing in flight.
    UPDATE tasks t SET needs_attention = v.attention
      FROM (SELECT x.task_uuid, st.found IS NOT NULL OR fl.found IS NULL AS attention
            FROM tasks x
            LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                               WHERE r.task_uuid = x.task_uuid LIMIT 1) st ON true
            LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                               WHERE s.task_uuid = x.task_uuid AND s.in_process LIMIT 1) fl ON true
            WHERE x.task_uuid = ANY (rest)) v
     WHERE t.task_uuid = ANY (rest) AND t.task_uuid = v.task_uuid
       AND t.needs_attention IS DISTINCT FROM v.attention;
  END IF;
  RETURN QUERY SELECT 'sent'::text, NULL::uuid, NULL::uuid, NULL::text, NULL::text, n_sent;
END
$$;
-- Its statements read and write the rows they are given, by their keys, with
-- the settings of the functions whose statements it took in.
ALTER FUNCTION tasker_dispatch SET plan_cache_mode = force_generic_plan
  SET enable_seqscan = off SET enable_hashjoin = on SET enable_mergejoin = off;

-- What followed the sends of a dispatch (0018, 0022, 0030) is part of
-- tasker_dispatch.
DROP FUNCTION tasker_finish_dispatch(uuid[], jsonb, uuid[], boolean);
DROP FUNCTION tasker_settle_attention(uuid[]);

-- The request processor's batch: tasker_create_and_start_tasks, then the
-- dispatch of the tasks it started. Rows: kind 'created' (ordinal, task,
-- duplicate) per request, then tasker_dispatch's rows.
CREATE FUNCTION tasker_create_start_and_dispatch(p_requests jsonb, p_node_id text,
                                                 p_start boolean, p_suffix text,
                                                 p_hold_seconds integer)
RETURNS TABLE (kind text, ordinal integer, task_uuid uuid, duplicate boolean,
               workflow_step_uuid uuid, queue_name text, to_state text, sent integer)
LANGUAGE plpgsql AS $$
DECLARE
  ords integer[];
  ids uuid[];
  dups boolean[];
  started uuid[];
  started_names text[];
  ready jsonb[];
BEGIN
  SELECT coalesce(array_agg(c.ordinal ORDER BY c.ordinal) FILTER (WHERE c.ordinal IS NOT NULL),
                  '{}'),
         coalesce(array_agg(c.task_uuid ORDER BY c.ordinal) FILTER (WHERE c.ordinal IS NOT NULL),
                  '{}'),
         coalesce(array_agg(c.duplicate ORDER BY c.ordinal) FILTER (WHERE c.ordinal IS NOT NULL),
                  '{}'),
         coalesce(array_agg(c.task_uuid) FILTER (WHERE c.ordinal IS NULL AND c.ready IS NULL),
                  '{}'),
         coalesce(array_agg(c.task_name) FILTER (WHERE c.ordinal IS NULL AND c.ready IS NULL),
                  '{}'),
         coalesce(array_agg(c.ready) FILTER (WHERE c.ready IS NOT NULL), '{}')
    INTO ords, ids, dups, started, started_names, ready
    FROM tasker_create_and_start_tasks(p_requests, p_node_id, p_start, p_suffix) c;
  RETURN QUERY SELECT 'created'::text, x.o, x.t, x.d, NULL::uuid, NULL::text, NULL::text,
                      NULL::integer
    FROM unnest(ords, ids, dups) AS x(o, t, d) ORDER BY x.o;
  RETURN QUERY SELECT d.kind, NULL::integer, d.task_uuid, NULL::boolean, d.workflow_step_uuid,
                      d.queue_name, d.to_state, d.sent
    FROM tasker_dispatch(started, started_names, ready, p_node_id, p_suffix, false,
                         p_hold_seconds) d;
END
$$;
ALTER FUNCTION tasker_create_start_and_dispatch SET plan_cache_mode = force_generic_plan;

-- The result processor's batch: tasker_apply_step_results_and_advance, the
-- claimers' wake-up when it could not lock every task it touched, then the
-- dispatch (and finalization) of the tasks it locked. Rows: kind 'result'
-- (ordinal, step, outcome, detail) per result; kind 'touched' (touched: the
-- tasks whose steps changed state, locked: those this call advances); then
-- tasker_dispatch's rows when it locked any.
CREATE FUNCTION tasker_apply_results_and_dispatch(p_results jsonb, p_node_id text,
                                                  p_suffix text, p_hold_seconds integer)
RETURNS TABLE (kind text, ordinal integer, workflow_step_uuid uuid, outcome text, detail text,
               task_uuid uuid, queue_name text, to_state text, touched integer,
               locked integer, sent integer)
LANGUAGE plpgsql AS $$
DECLARE
  ords integer[];
  steps uuid[];
  outcomes text[];
  details text[];
  locked_ids uuid[];
  locked_names text[];
  ready jsonb[];
  n_touched integer;
BEGIN
  SELECT coalesce(array_agg(a.ordinal ORDER BY a.ordinal) FILTER (WHERE a.ordinal IS NOT NULL),
                  '{}'),
         coalesce(array_agg(a.workflow_step_uuid ORDER BY a.ordinal)
                    FILTER (WHERE a.ordinal IS NOT NULL), '{}'),
         coalesce(array_agg(a.outcome ORDER BY a.ordinal) FILTER (WHERE a.ordinal IS NOT NULL),
                  '{}'),
         coalesce(array_agg(a.detail ORDER BY a.ordinal) FILTER (WHERE a.ordinal IS NOT NULL),
                  '{}'),
         coalesce(array_agg(a.task_uuid ORDER BY a.task_uuid) FILTER (WHERE a.task_uuid IS NOT NULL),
                  '{}'),
         coalesce(array_agg(a.task_name ORDER BY a.task_uuid) FILTER (WHERE a.task_uuid IS NOT NULL),
                  '{}'),
         coalesce(array_agg(a.ready) FILTER (WHERE a.ready IS NOT NULL), '{}'),
         coalesce(max(a.touched), 0)
    INTO ords, steps, outcomes, details, locked_ids, locked_names, ready, n_touched
    FROM tasker_apply_step_results_and_advance(p_results, p_node_id, p_suffix) a;
  RETURN QUERY SELECT 'result'::text, x.o, x.s, x.oc, x.d, NULL::uuid, NULL::text, NULL::text,
                      NULL::integer, NULL::integer, NULL::integer
    FROM unnest(ords, steps, outcomes, details) AS x(o, s, oc, d) ORDER BY x.o;
  RETURN QUERY SELECT 'touched'::text, NULL::integer, NULL::uuid, NULL::text, NULL::text,
                      NULL::uuid, NULL::text, NULL::text, n_touched, cardinality(locked_ids),
                      NULL::integer;
  IF n_touched = 0 THEN
    RETURN;
  END IF;
  -- What this batch cannot advance (another transaction holds the task, or
  -- another node's live claim) is left to the claim path: wake it.
  IF cardinality(locked_ids) < n_touched THEN
    PERFORM pg_notify('tasker_tasks_ready', '');
  END IF;
  IF cardinality(locked_ids) > 0 THEN
    RETURN QUERY SELECT d.kind, NULL::integer, d.workflow_step_uuid, NULL::text, NULL::text,
                        d.task_uuid, d.queue_name, d.to_state, NULL::integer, NULL::integer,
                        d.sent
      FROM tasker_dispatch(locked_ids, locked_names, ready, p_node_id, p_suffix, true,
                           p_hold_seconds) d;
  END IF;
END
$$;
ALTER FUNCTION tasker_apply_results_and_dispatch SET plan_cache_mode = force_generic_plan;
