-- Orchestration over the core schema: template registration, task creation,
-- step readiness, execution context and task claims. Every function is
-- set-based: one call serves a whole batch. SQLSTATEs as in 0001_core.sql.

-- -- templates ---------------------------------------------------------------

-- Registers (namespace, name, version) with its steps, creating the namespace
-- when missing. p_steps is a JSON array in topological order of objects with
-- name, handler, depends_on, retryable, retry_limit, backoff_base_ms,
-- backoff_max_ms, backoff_jitter, timeout_seconds, inputs. Re-registering the
-- same document is a no-op (created = false); a different document under an
-- existing version is refused, because tasks already refer to it.
CREATE FUNCTION tasker_register_named_task(p_namespace text, p_name text, p_version text,
                                           p_description text, p_template jsonb,
                                           p_steps jsonb)
RETURNS TABLE (named_task_uuid uuid, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  ns uuid;
  nt uuid;
  existing jsonb;
BEGIN
  INSERT INTO namespaces (name) VALUES (p_namespace) ON CONFLICT (name) DO NOTHING;
  SELECT n.namespace_uuid INTO ns FROM namespaces n WHERE n.name = p_namespace;
  INSERT INTO named_tasks (namespace_uuid, name, version, description, template)
    VALUES (ns, p_name, p_version, coalesce(p_description, ''), p_template)
    ON CONFLICT (namespace_uuid, name, version) DO NOTHING
    RETURNING named_tasks.named_task_uuid INTO nt;
  IF nt IS NULL THEN
    SELECT t.named_task_uuid, t.template INTO nt, existing FROM named_tasks t
      WHERE t.namespace_uuid = ns AND t.name = p_name AND t.version = p_version;
    IF existing IS DISTINCT FROM p_template THEN
      RAISE EXCEPTION 'task template %/%@% is already registered with different content; '
                      'a version is immutable, register the change under a new version',
        p_namespace, p_name, p_version USING ERRCODE = 'TK003';
    END IF;
    RETURN QUERY SELECT nt, false;
    RETURN;
  END IF;
  INSERT INTO named_steps (named_task_uuid, name, handler, position, depends_on, retryable,
                           retry_limit, backoff_base_ms, backoff_max_ms, backoff_jitter,
                           timeout_seconds, inputs)
    SELECT nt, e.s->>'name', e.s->>'handler', e.ord::integer - 1,
           ARRAY(SELECT jsonb_array_elements_text(coalesce(e.s->'depends_on', '[]'))),
           coalesce((e.s->>'retryable')::boolean, true),
           coalesce((e.s->>'retry_limit')::integer, 3),
           coalesce((e.s->>'backoff_base_ms')::integer, 1000),
           coalesce((e.s->>'backoff_max_ms')::integer, 60000),
           coalesce((e.s->>'backoff_jitter')::double precision, 0.1),
           coalesce((e.s->>'timeout_seconds')::integer, 300),
           coalesce(e.s->'inputs', '{}')
    FROM jsonb_array_elements(p_steps) WITH ORDINALITY AS e(s, ord);
  RETURN QUERY SELECT nt, true;
END
$$;

-- -- task creation -----------------------------------------------------------

-- The requests of a batch resolved against the registry. A request names
-- namespace, task_name and optionally task_version (absent: the latest
-- registered); template columns are NULL when nothing matches.
CREATE FUNCTION tasker_resolve_task_requests(p_requests jsonb)
RETURNS TABLE (ordinal integer, namespace_uuid uuid, named_task_uuid uuid, namespace_name text,
               task_name text, task_version text, context jsonb, priority integer,
               initiator text, reason text, request_id text, identity_hash text)
LANGUAGE sql STABLE AS $$
  SELECT r.ord::integer - 1, n.namespace_uuid, nt.named_task_uuid,
         r.req->>'namespace', r.req->>'task_name', coalesce(nt.version, r.req->>'task_version'),
         coalesce(nullif(r.req->'context', 'null'), '{}'),
         coalesce((r.req->>'priority')::integer, 0),
         coalesce(r.req->>'initiator', ''), coalesce(r.req->>'reason', ''), r.req->>'request_id',
         -- jsonb text is canonical, so equal contexts hash equally
         encode(sha256(convert_to((r.req->>'namespace') || '/' || (r.req->>'task_name') || '@'
                                  || nt.version || ':'
                                  || coalesce(nullif(r.req->'context', 'null'), '{}')::text,
                                  'UTF8')), 'hex')
  FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, ord)
  LEFT JOIN namespaces n ON n.name = r.req->>'namespace'
  LEFT JOIN LATERAL (
    SELECT t.named_task_uuid, t.version FROM named_tasks t
    WHERE t.namespace_uuid = n.namespace_uuid AND t.name = r.req->>'task_name'
      AND (r.req->>'task_version' IS NULL OR t.version = r.req->>'task_version')
    ORDER BY t.created_at DESC, t.version DESC LIMIT 1
  ) nt ON true
$$;

-- Creates the tasks of a batch of requests (a JSON array) with their steps,
-- edges and initial transitions, all or nothing. A request identical to an
-- existing task (same template version and context) returns that task with
-- duplicate = true; so does a repeat within the batch. Rows come back in
-- request order (ordinal counts from 0).
CREATE FUNCTION tasker_create_tasks(p_requests jsonb)
RETURNS TABLE (ordinal integer, task_uuid uuid, duplicate boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  bad record;
  new_tasks uuid[];
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

  SELECT r.ordinal AS i, r.request_id AS rid, r.namespace_name AS ns, r.task_name AS name,
         r.task_version AS version, r.namespace_uuid IS NULL AS no_namespace INTO bad
  FROM tasker_resolve_task_requests(p_requests) r
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

  WITH inserted AS (
    INSERT INTO tasks (named_task_uuid, namespace_uuid, context, priority, initiator, reason,
                       request_id, identity_hash)
    SELECT DISTINCT ON (r.identity_hash) r.named_task_uuid, r.namespace_uuid, r.context,
           r.priority, r.initiator, r.reason, r.request_id, r.identity_hash
    FROM tasker_resolve_task_requests(p_requests) r
    ORDER BY r.identity_hash, r.ordinal
    ON CONFLICT (identity_hash) DO NOTHING
    RETURNING tasks.task_uuid
  )
  SELECT coalesce(array_agg(i.task_uuid), '{}') INTO new_tasks FROM inserted i;

  INSERT INTO workflow_steps (task_uuid, named_step_uuid, name, handler, position, inputs,
                              retryable, retry_limit, backoff_base_ms, backoff_max_ms,
                              backoff_jitter, timeout_seconds)
  SELECT t.task_uuid, ns.named_step_uuid, ns.name, ns.handler, ns.position, ns.inputs,
         ns.retryable, ns.retry_limit, ns.backoff_base_ms, ns.backoff_max_ms,
         ns.backoff_jitter, ns.timeout_seconds
  FROM tasks t JOIN named_steps ns ON ns.named_task_uuid = t.named_task_uuid
  WHERE t.task_uuid = ANY (new_tasks);

  -- A registered template is validated, so a dependency that does not resolve
  -- to an earlier step means the stored rows were damaged: refuse the batch.
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
  IF FOUND THEN
    RAISE EXCEPTION 'task template %/%@% is corrupt: step "%" depends on "%", which is not an '
                    'earlier step', bad.ns, bad.name, bad.version, bad.step, bad.dep
      USING ERRCODE = 'TK004';
  END IF;
  SELECT n.name AS ns, nt.name, nt.version INTO bad
  FROM tasks t JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
  JOIN namespaces n ON n.namespace_uuid = nt.namespace_uuid
  WHERE t.task_uuid = ANY (new_tasks)
    AND NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.task_uuid = t.task_uuid)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'task template %/%@% is corrupt: it has no steps', bad.ns, bad.name,
      bad.version USING ERRCODE = 'TK004';
  END IF;

  INSERT INTO workflow_step_edges (task_uuid, from_step_uuid, to_step_uuid)
  SELECT c.task_uuid, p.workflow_step_uuid, c.workflow_step_uuid
  FROM workflow_steps c
  JOIN named_steps s ON s.named_step_uuid = c.named_step_uuid
  CROSS JOIN LATERAL unnest(s.depends_on) AS d(dep)
  JOIN workflow_steps p ON p.task_uuid = c.task_uuid AND p.name = d.dep
  WHERE c.task_uuid = ANY (new_tasks);

  INSERT INTO task_transitions (task_uuid, from_state, to_state, metadata, sort_key, most_recent)
  SELECT u, NULL, 'pending', '{"event": "created"}', 1, true FROM unnest(new_tasks) AS u;
  INSERT INTO workflow_step_transitions
      (workflow_step_uuid, from_state, to_state, metadata, sort_key, most_recent)
  SELECT s.workflow_step_uuid, NULL, 'pending', '{"event": "created"}', 1, true
  FROM workflow_steps s WHERE s.task_uuid = ANY (new_tasks);

  RETURN QUERY
  SELECT r.ordinal, t.task_uuid,
         NOT (t.task_uuid = ANY (new_tasks))
           OR r.ordinal <> min(r.ordinal) OVER (PARTITION BY r.identity_hash)
  FROM tasker_resolve_task_requests(p_requests) r
  JOIN tasks t ON t.identity_hash = r.identity_hash
  ORDER BY r.ordinal;
END
$$;

-- -- readiness ---------------------------------------------------------------

-- Steps that may start once their backoff has passed: pending, or failed and
-- retry-eligible (retryable, attempts < retry_limit); not in process; every
-- parent complete or resolved_manually. `ready` adds the backoff. This is the
-- one definition of readiness; claims, ready steps and contexts all use it.
CREATE VIEW startable_workflow_steps AS
SELECT s.workflow_step_uuid, s.task_uuid, s.name, s.handler, s.position, s.current_state,
       s.attempts, s.retry_limit, s.timeout_seconds, s.inputs, s.backoff_until,
       (s.backoff_until IS NULL OR s.backoff_until <= now()) AS ready
FROM workflow_steps s
WHERE s.current_state IN ('pending', 'error') AND NOT s.in_process
  AND (s.current_state = 'pending' OR (s.retryable AND s.attempts < s.retry_limit))
  AND NOT EXISTS (
    SELECT 1 FROM workflow_step_edges e
    JOIN workflow_steps p ON p.workflow_step_uuid = e.from_step_uuid
    WHERE e.to_step_uuid = s.workflow_step_uuid
      AND p.current_state NOT IN ('complete', 'resolved_manually'));

-- Ready steps of the given tasks (only tasks still pending or in progress),
-- with what a step message needs: parent_results maps each parent step's
-- name to its results (null when it recorded none).
CREATE FUNCTION tasker_ready_steps(p_task_uuids uuid[])
RETURNS TABLE (task_uuid uuid, workflow_step_uuid uuid, namespace_name text, step_name text,
               handler text, current_state text, attempts integer, retry_limit integer,
               timeout_seconds integer, inputs jsonb, task_context jsonb, parent_results jsonb)
LANGUAGE sql STABLE AS $$
  SELECT r.task_uuid, r.workflow_step_uuid, n.name, r.name, r.handler, r.current_state,
         r.attempts, r.retry_limit, r.timeout_seconds, r.inputs, t.context, pr.results
  FROM startable_workflow_steps r
  JOIN tasks t ON t.task_uuid = r.task_uuid
  JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
  CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_object_agg(p.name, coalesce(p.results, 'null')), '{}') AS results
    FROM workflow_step_edges e JOIN workflow_steps p ON p.workflow_step_uuid = e.from_step_uuid
    WHERE e.to_step_uuid = r.workflow_step_uuid
  ) pr
  WHERE r.task_uuid = ANY (p_task_uuids) AND r.ready
    AND t.current_state IN ('pending', 'in_progress')
  ORDER BY r.task_uuid, r.position
$$;

-- Step counts and an overall status per task. Status, first match wins:
--   all_complete             every step complete or resolved_manually
--   has_ready_steps          at least one step can start now
--   processing               steps are enqueued or running
--   waiting_for_dependencies a retry is backing off, so work will resume
--   blocked_by_failures      failed steps (retries exhausted) or cancelled
--                            steps leave nothing that can ever run
--   waiting_for_dependencies otherwise
CREATE FUNCTION tasker_task_execution_contexts(p_task_uuids uuid[])
RETURNS TABLE (task_uuid uuid, task_state text, total_steps integer, pending_steps integer,
               enqueued_steps integer, in_progress_steps integer, complete_steps integer,
               error_steps integer, failed_steps integer, cancelled_steps integer,
               ready_steps integer, backing_off_steps integer, status text)
LANGUAGE sql STABLE AS $$
  SELECT t.task_uuid, t.current_state, c.total, c.pending, c.enqueued, c.in_progress,
         c.complete, c.error, c.failed, c.cancelled, rd.ready, rd.backing_off,
         CASE
           WHEN c.total = c.complete THEN 'all_complete'
           WHEN rd.ready > 0 THEN 'has_ready_steps'
           WHEN c.enqueued + c.in_progress > 0 THEN 'processing'
           WHEN rd.backing_off > 0 THEN 'waiting_for_dependencies'
           WHEN c.failed + c.cancelled > 0 THEN 'blocked_by_failures'
           ELSE 'waiting_for_dependencies'
         END
  FROM tasks t
  CROSS JOIN LATERAL (
    SELECT count(*)::integer AS total,
           count(*) FILTER (WHERE s.current_state = 'pending')::integer AS pending,
           count(*) FILTER (WHERE s.current_state = 'enqueued')::integer AS enqueued,
           count(*) FILTER (WHERE s.current_state = 'in_progress')::integer AS in_progress,
           count(*) FILTER (WHERE s.current_state IN ('complete', 'resolved_manually'))::integer
             AS complete,
           count(*) FILTER (WHERE s.current_state = 'error')::integer AS error,
           count(*) FILTER (WHERE s.current_state = 'error'
                            AND NOT (s.retryable AND s.attempts < s.retry_limit))::integer
             AS failed,
           count(*) FILTER (WHERE s.current_state = 'cancelled')::integer AS cancelled
    FROM workflow_steps s WHERE s.task_uuid = t.task_uuid
  ) c
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE r.ready)::integer AS ready,
           count(*) FILTER (WHERE NOT r.ready)::integer AS backing_off
    FROM startable_workflow_steps r WHERE r.task_uuid = t.task_uuid
  ) rd
  WHERE t.task_uuid = ANY (p_task_uuids)
  ORDER BY t.task_uuid
$$;

-- -- claims ------------------------------------------------------------------

-- Claims up to p_limit unfinished tasks that have a ready step and no live
-- claim (none, or claimed_at + claim_timeout_seconds already past), highest
-- effective priority first: priority + seconds waiting / p_aging_seconds, so
-- a long-waiting low-priority task overtakes newer high-priority ones.
-- Rows another transaction holds are skipped, so concurrent claimers never
-- block each other or claim the same task.
CREATE FUNCTION tasker_claim_ready_tasks(p_node_id text, p_limit integer,
                                         p_claim_timeout_seconds integer,
                                         p_aging_seconds double precision DEFAULT 60)
RETURNS TABLE (task_uuid uuid, namespace_name text, priority integer,
               effective_priority double precision, claimed_at timestamptz)
LANGUAGE sql AS $$
  WITH candidates AS (
    SELECT t.task_uuid,
           t.priority + extract(epoch FROM now() - t.created_at)::double precision
                        / greatest(p_aging_seconds, 0.001) AS effective_priority
    FROM tasks t
    WHERE t.current_state IN ('pending', 'in_progress')
      AND (t.claimed_by IS NULL
           OR t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now())
      AND EXISTS (SELECT 1 FROM startable_workflow_steps r
                  WHERE r.task_uuid = t.task_uuid AND r.ready)
    ORDER BY effective_priority DESC, t.created_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  UPDATE tasks t
     SET claimed_by = p_node_id, claimed_at = now(),
         claim_timeout_seconds = p_claim_timeout_seconds, updated_at = now()
    FROM candidates c, namespaces n
   WHERE t.task_uuid = c.task_uuid AND n.namespace_uuid = t.namespace_uuid
  RETURNING t.task_uuid, n.name, t.priority, c.effective_priority, t.claimed_at
$$;

-- Releases the listed claims that p_node_id holds; others' claims stay.
CREATE FUNCTION tasker_release_claims(p_task_uuids uuid[], p_node_id text)
RETURNS SETOF uuid
LANGUAGE sql AS $$
  UPDATE tasks t SET claimed_by = NULL, claimed_at = NULL, updated_at = now()
   WHERE t.task_uuid = ANY (p_task_uuids) AND t.claimed_by = p_node_id
  RETURNING t.task_uuid
$$;

-- Restarts the timeout of the listed claims that p_node_id still holds.
CREATE FUNCTION tasker_extend_claims(p_task_uuids uuid[], p_node_id text)
RETURNS SETOF uuid
LANGUAGE sql AS $$
  UPDATE tasks t SET claimed_at = now(), updated_at = now()
   WHERE t.task_uuid = ANY (p_task_uuids) AND t.claimed_by = p_node_id
  RETURNING t.task_uuid
$$;

-- -- inspection --------------------------------------------------------------

-- Current states; unknown uuids are simply absent.
CREATE FUNCTION tasker_task_states(p_task_uuids uuid[])
RETURNS TABLE (task_uuid uuid, current_state text)
LANGUAGE sql STABLE AS $$
  SELECT t.task_uuid, t.current_state FROM tasks t WHERE t.task_uuid = ANY (p_task_uuids)
$$;

CREATE FUNCTION tasker_step_states(p_step_uuids uuid[])
RETURNS TABLE (workflow_step_uuid uuid, current_state text)
LANGUAGE sql STABLE AS $$
  SELECT s.workflow_step_uuid, s.current_state FROM workflow_steps s
  WHERE s.workflow_step_uuid = ANY (p_step_uuids)
$$;

-- A task's own history, oldest first.
CREATE FUNCTION tasker_task_transition_history(p_task_uuid uuid)
RETURNS TABLE (from_state text, to_state text, metadata jsonb, sort_key integer,
               most_recent boolean, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT h.from_state, h.to_state, h.metadata, h.sort_key, h.most_recent, h.created_at
  FROM task_transitions h WHERE h.task_uuid = p_task_uuid ORDER BY h.sort_key
$$;

-- The history of every step of a task, by step position then oldest first.
CREATE FUNCTION tasker_step_transition_history(p_task_uuid uuid)
RETURNS TABLE (workflow_step_uuid uuid, step_name text, from_state text, to_state text,
               metadata jsonb, sort_key integer, most_recent boolean, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT s.workflow_step_uuid, s.name, h.from_state, h.to_state, h.metadata, h.sort_key,
         h.most_recent, h.created_at
  FROM workflow_steps s JOIN workflow_step_transitions h
    ON h.workflow_step_uuid = s.workflow_step_uuid
  WHERE s.task_uuid = p_task_uuid ORDER BY s.position, h.sort_key
$$;

-- Every step of a task in topological order, for inspection and tests.
CREATE FUNCTION tasker_task_steps(p_task_uuid uuid)
RETURNS TABLE (workflow_step_uuid uuid, step_name text, current_state text, attempts integer,
               results jsonb)
LANGUAGE sql STABLE AS $$
  SELECT s.workflow_step_uuid, s.name, s.current_state, s.attempts, s.results
  FROM workflow_steps s WHERE s.task_uuid = p_task_uuid ORDER BY s.position
$$;
