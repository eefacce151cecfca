-- Plans cached per connection for the functions on the hot path.
--
-- PostgreSQL plans the body of a LANGUAGE sql function that it cannot inline
-- afresh at every call, and an inlined one becomes part of the caller's
-- query, planned at every call of an unprepared statement. For the claim,
-- enqueue, result and finalization functions (whose bodies join
-- startable_workflow_steps) that planning cost several times the execution:
-- about 3 ms against 0.2 ms for tasker_ready_steps. PL/pgSQL keeps the plan of
-- each statement for the life of the connection, and the broker's connections
-- are long-lived, so each function below is restated in PL/pgSQL with the
-- same signature and the same result as before.
--
-- The statements are also shaped so that their plans stay on indexes however
-- stale the statistics (a burst of new tasks into an idle system is exactly
-- when they are): a "does this task have a startable step" test is a LATERAL
-- subquery with LIMIT 1, which can only run as an index probe per task,
-- where an EXISTS could be planned as a hash over every startable step in
-- the database; the claim fetches its candidates by primary key from the
-- short list the pool yields (it was a hash join over every unfinished
-- task) and reads lapsed claims from tasks_claimed_by_idx first.

CREATE OR REPLACE FUNCTION tasker_ready_steps(p_task_uuids uuid[])
RETURNS TABLE (task_uuid uuid, workflow_step_uuid uuid, namespace_name text, step_name text,
               handler text, current_state text, attempts integer, retry_limit integer,
               timeout_seconds integer, inputs jsonb, task_context jsonb, parent_results jsonb)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT r.task_uuid, r.workflow_step_uuid, n.name, r.name, r.handler, r.current_state,
         r.attempts, r.retry_limit, r.timeout_seconds, r.inputs, t.context, pr.results
  FROM tasks t
  JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
  CROSS JOIN LATERAL (SELECT * FROM startable_workflow_steps r0
                      WHERE r0.task_uuid = t.task_uuid OFFSET 0) r
  CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_object_agg(p.name, coalesce(p.results, 'null')), '{}') AS results
    FROM workflow_step_edges e JOIN workflow_steps p ON p.workflow_step_uuid = e.from_step_uuid
    WHERE e.to_step_uuid = r.workflow_step_uuid
  ) pr
  WHERE t.task_uuid = ANY (p_task_uuids) AND r.ready
    AND t.current_state IN ('pending', 'in_progress')
  ORDER BY r.task_uuid, r.position;
END
$$;

CREATE OR REPLACE FUNCTION tasker_task_states(p_task_uuids uuid[])
RETURNS TABLE (task_uuid uuid, current_state text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT t.task_uuid, t.current_state FROM tasks t WHERE t.task_uuid = ANY (p_task_uuids);
END
$$;

CREATE OR REPLACE FUNCTION tasker_step_states(p_step_uuids uuid[])
RETURNS TABLE (workflow_step_uuid uuid, current_state text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT s.workflow_step_uuid, s.current_state FROM workflow_steps s
  WHERE s.workflow_step_uuid = ANY (p_step_uuids);
END
$$;

CREATE OR REPLACE FUNCTION tasker_resolve_task_requests(p_requests jsonb)
RETURNS TABLE (ordinal integer, namespace_uuid uuid, named_task_uuid uuid, namespace_name text,
               task_name text, task_version text, context jsonb, priority integer,
               initiator text, reason text, request_id text, identity_hash text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
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
  ) nt ON true;
END
$$;

CREATE OR REPLACE FUNCTION tasker_release_claims(p_task_uuids uuid[], p_node_id text)
RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  UPDATE tasks t SET claimed_by = NULL, claimed_at = NULL, updated_at = now()
   WHERE t.task_uuid = ANY (p_task_uuids) AND t.claimed_by = p_node_id
  RETURNING t.task_uuid;
END
$$;

CREATE OR REPLACE FUNCTION tasker_extend_claims(p_task_uuids uuid[], p_node_id text)
RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  UPDATE tasks t SET claimed_at = now(), updated_at = now()
   WHERE t.task_uuid = ANY (p_task_uuids) AND t.claimed_by = p_node_id
  RETURNING t.task_uuid;
END
$$;

CREATE OR REPLACE FUNCTION tasker_lock_claimed_tasks(p_node_id text, p_limit integer)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH locked AS (
    SELECT t.task_uuid, t.namespace_uuid, t.named_task_uuid FROM tasks t
    WHERE t.claimed_by = p_node_id AND t.current_state IN ('pending', 'in_progress')
    ORDER BY t.claimed_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT l.task_uuid, n.name, nt.name FROM locked l
  JOIN namespaces n ON n.namespace_uuid = l.namespace_uuid
  JOIN named_tasks nt ON nt.named_task_uuid = l.named_task_uuid;
END
$$;

CREATE OR REPLACE FUNCTION tasker_settle_attention(p_task_uuids uuid[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tasks t SET needs_attention = v.attention
    FROM (SELECT x.task_uuid, st.found IS NOT NULL OR fl.found IS NULL AS attention
          FROM tasks x
          LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                             WHERE r.task_uuid = x.task_uuid LIMIT 1) st ON true
          LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                             WHERE s.task_uuid = x.task_uuid
                               AND s.current_state IN ('enqueued', 'in_progress') LIMIT 1) fl ON true
          WHERE x.task_uuid = ANY (p_task_uuids)) v
   WHERE t.task_uuid = ANY (p_task_uuids) AND t.task_uuid = v.task_uuid
     AND t.needs_attention IS DISTINCT FROM v.attention;
END
$$;

CREATE OR REPLACE FUNCTION tasker_lock_tasks_for_advance(p_task_uuids uuid[], p_node_id text)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH locked AS (
    SELECT t.task_uuid, t.namespace_uuid, t.named_task_uuid FROM tasks t
    WHERE t.task_uuid = ANY (p_task_uuids) AND t.current_state IN ('pending', 'in_progress')
      AND (t.claimed_by IS NULL OR t.claimed_by = p_node_id
           OR t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now())
    ORDER BY t.task_uuid
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT l.task_uuid, n.name, nt.name FROM locked l
  JOIN namespaces n ON n.namespace_uuid = l.namespace_uuid
  JOIN named_tasks nt ON nt.named_task_uuid = l.named_task_uuid;
END
$$;

CREATE OR REPLACE FUNCTION tasker_finalize_tasks(p_limit integer)
RETURNS TABLE (task_uuid uuid, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH candidates AS (
    SELECT t.task_uuid FROM tasks t
    LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                       WHERE s.task_uuid = t.task_uuid
                         AND s.current_state IN ('enqueued', 'in_progress') LIMIT 1) fl ON true
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

CREATE OR REPLACE FUNCTION tasker_claim_ready_tasks(p_node_id text, p_limit integer,
                                                    p_claim_timeout_seconds integer,
                                                    p_aging_seconds double precision DEFAULT 60)
RETURNS TABLE (task_uuid uuid, namespace_name text, priority integer,
               effective_priority double precision, claimed_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH RECURSIVE lapsed AS MATERIALIZED (
    -- Claims whose holder let them lapse, read first through
    -- tasks_claimed_by_idx: left to the planner, it may start from every
    -- startable step instead and probe each one's task.
    SELECT t.task_uuid FROM tasks t
    WHERE t.claimed_by IS NOT NULL AND t.current_state IN ('pending', 'in_progress')
      AND t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now()
  ), priorities AS (
    (SELECT t.priority FROM tasks t
     WHERE t.needs_attention AND t.claimed_by IS NULL
       AND t.current_state IN ('pending', 'in_progress')
     ORDER BY t.priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT t.priority FROM tasks t
            WHERE t.needs_attention AND t.claimed_by IS NULL
              AND t.current_state IN ('pending', 'in_progress') AND t.priority < p.priority
            ORDER BY t.priority DESC LIMIT 1)
    FROM priorities p WHERE p.priority IS NOT NULL
  ), pool AS (
    SELECT c.task_uuid FROM priorities p
    CROSS JOIN LATERAL (
      SELECT t.task_uuid FROM tasks t
      CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                          WHERE r.task_uuid = t.task_uuid AND r.ready LIMIT 1) ok
      WHERE t.priority = p.priority AND t.needs_attention AND t.claimed_by IS NULL
        AND t.current_state IN ('pending', 'in_progress')
      ORDER BY t.created_at, t.task_uuid
      LIMIT greatest(p_limit, 0)
    ) c
    WHERE p.priority IS NOT NULL
    UNION
    SELECT l.task_uuid FROM lapsed l
    CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                        WHERE r.task_uuid = l.task_uuid AND r.ready LIMIT 1) ok
  ), candidates AS (
    SELECT t.task_uuid,
           t.priority + extract(epoch FROM now() - t.created_at)::double precision
                        / greatest(p_aging_seconds, 0.001) AS effective_priority
    FROM tasks t
    WHERE t.task_uuid = ANY (ARRAY(SELECT pool.task_uuid FROM pool))
      AND t.current_state IN ('pending', 'in_progress')
      AND (t.claimed_by IS NULL
           OR t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now())
    ORDER BY effective_priority DESC, t.created_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  UPDATE tasks t
     SET claimed_by = p_node_id, claimed_at = now(),
         claim_timeout_seconds = p_claim_timeout_seconds, updated_at = now()
    FROM candidates c, namespaces n
   WHERE t.task_uuid = c.task_uuid AND n.namespace_uuid = t.namespace_uuid
  RETURNING t.task_uuid, n.name, t.priority, c.effective_priority, t.claimed_at;
END
$$;
