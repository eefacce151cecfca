-- A task started by the transaction that creates it is inserted started, and
-- its root steps enqueued.
--
-- The request processor created a batch's tasks `pending` with `pending`
-- steps, then started the tasks (tasker_start_new_tasks: lock, a second
-- version of every task row and of its first history row, a history row)
-- unless the claim path had a ready task waiting, sent the root steps'
-- messages and moved those steps to `enqueued` (the same again for each
-- step). tasker_create_and_start_tasks now asks the claim-path question first
-- and, when the new tasks may start, creates them `in_progress` and their
-- root steps `enqueued` (when their namespace queue exists), each row with
-- both of its history rows (created; started or enqueued, with the node)
-- written at once: the same history, one version of each row instead of two.
-- The processor sends the messages of those steps in the same transaction,
-- as before; they come back with the ready steps, in state `enqueued`.
--
-- tasker_create_tasks(requests, start_on, queue_suffix) does the creating:
-- with a node id in p_start_on as above; with NULL, everything `pending`, as
-- tasker_create_tasks(requests) (now a call of it) always did. It resolves
-- the batch's requests once, where it did three times. Whether new tasks may
-- start is one function, tasker_claim_path_has_ready_task, for this path and
-- for tasker_start_new_tasks (the request processor's request-by-request
-- path), which is restated to use it.

-- tasker_resolve_task_requests' rows, kept in a variable so that a batch is
-- resolved (templates looked up, identity hashes computed) once, not three
-- times.
CREATE TYPE tasker_resolved_request AS (
  ordinal integer, namespace_uuid uuid, named_task_uuid uuid, namespace_name text,
  task_name text, task_version text, context jsonb, priority integer, initiator text,
  reason text, request_id text, identity_hash text
);

CREATE FUNCTION tasker_create_tasks(p_requests jsonb, p_start_on text, p_queue_suffix text)
RETURNS TABLE (ordinal integer, task_uuid uuid, duplicate boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  resolved tasker_resolved_request[];
  bad record;
  new_tasks uuid[];
  tasks_with_steps integer;
  edges_wanted integer;
  edges_made integer;
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

  -- Resolved once (templates, identity hashes), read three times below.
  resolved := ARRAY(SELECT ROW(r.*)::tasker_resolved_request
                    FROM tasker_resolve_task_requests(p_requests) r);
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
  -- its creation, and with p_start_on the start as well.
  WITH inserted AS (
    INSERT INTO tasks (named_task_uuid, namespace_uuid, context, priority, initiator, reason,
                       request_id, identity_hash, current_state)
    SELECT DISTINCT ON (r.identity_hash) r.named_task_uuid, r.namespace_uuid, r.context,
           r.priority, r.initiator, r.reason, r.request_id, r.identity_hash,
           CASE WHEN p_start_on IS NULL THEN 'pending' ELSE 'in_progress' END
    FROM unnest(resolved) r
    ORDER BY r.identity_hash, r.ordinal
    ON CONFLICT (identity_hash) DO NOTHING
    RETURNING tasks.task_uuid
  ), history AS (
    INSERT INTO task_transitions (task_uuid, from_state, to_state, metadata, sort_key,
                                  most_recent)
    SELECT i.task_uuid, NULL, 'pending', '{"event": "created"}', 1, p_start_on IS NULL
      FROM inserted i
    UNION ALL
    SELECT i.task_uuid, 'pending', 'in_progress',
           jsonb_build_object('event', 'started', 'node_id', p_start_on), 2, true
      FROM inserted i WHERE p_start_on IS NOT NULL
  )
  SELECT coalesce(array_agg(i.task_uuid), '{}') INTO new_tasks FROM inserted i;

  -- With p_start_on, a root step whose namespace queue exists is inserted
  -- enqueued: the caller sends its message in this transaction.
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
      SELECT p_start_on IS NOT NULL AND coalesce(cardinality(ns.depends_on), 0) = 0
             AND (p_queue_suffix IS NULL OR EXISTS (
                   SELECT 1 FROM namespaces n JOIN tasker_mq.meta m
                     ON m.queue_name = n.name || p_queue_suffix
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
           jsonb_build_object('event', 'enqueued', 'node_id', p_start_on), 2, true
      FROM steps s WHERE s.current_state = 'enqueued'
  )
  SELECT count(DISTINCT s.task_uuid) INTO tasks_with_steps FROM steps s;

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
  SELECT r.ordinal, t.task_uuid,
         NOT (t.task_uuid = ANY (new_tasks))
           OR r.ordinal <> min(r.ordinal) OVER (PARTITION BY r.identity_hash)
  FROM unnest(resolved) r
  JOIN tasks t ON t.identity_hash = r.identity_hash
  ORDER BY r.ordinal;
END
$$;

CREATE OR REPLACE FUNCTION tasker_create_tasks(p_requests jsonb)
RETURNS TABLE (ordinal integer, task_uuid uuid, duplicate boolean)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT * FROM tasker_create_tasks(p_requests, NULL, NULL);
END
$$;

ALTER FUNCTION tasker_create_tasks(jsonb, text, text) SET enable_seqscan = off
  SET enable_hashjoin = off SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;

-- Whether a claimable task (other than p_except) has a ready step. The claim
-- path takes those by effective priority, so new tasks do not start at
-- creation while one waits (0013). One rule for tasker_start_new_tasks and
-- tasker_create_and_start_tasks, inlined into each.
CREATE FUNCTION tasker_claim_path_has_ready_task(p_except uuid[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM tasks t
    CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                        WHERE r.task_uuid = t.task_uuid AND r.ready LIMIT 1) ok
    WHERE t.needs_attention AND t.claimed_by IS NULL
      AND t.current_state IN ('pending', 'in_progress')
      AND t.task_uuid <> ALL (p_except))
$$;

CREATE OR REPLACE FUNCTION tasker_start_new_tasks(p_task_uuids uuid[], p_node_id text)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF coalesce(cardinality(p_task_uuids), 0) = 0
     OR tasker_claim_path_has_ready_task(p_task_uuids) THEN
    RETURN;
  END IF;
  PERFORM tasker_transition_tasks(p_task_uuids, 'in_progress',
                                  jsonb_build_object('event', 'started', 'node_id', p_node_id));
  RETURN QUERY
  SELECT t.task_uuid, n.name, nt.name FROM tasks t
  JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
  JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
  WHERE t.task_uuid = ANY (p_task_uuids)
  ORDER BY t.task_uuid;
END
$$;

-- The settings of 0013 and 0016, which CREATE OR REPLACE resets.
ALTER FUNCTION tasker_start_new_tasks SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;

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
            JOIN workflow_steps s ON s.task_uuid = t.task_uuid AND s.current_state = 'enqueued'
            WHERE t.task_uuid = ANY (started)
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
