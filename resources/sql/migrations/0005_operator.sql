-- Operator actions and listings behind `taskerctl`: cancel, retry and resolve
-- tasks, list and inspect tasks and templates, queue statistics and the
-- dead-letter redrive of a whole queue.
--
-- The actions change state only through tasker_transition_tasks /
-- tasker_transition_steps, so the state machines and their histories stay
-- enforced in one place; each checks its precondition first so a refusal says
-- what the operator asked for and why it does not apply. SQLSTATEs as in
-- 0001_core.sql.

-- A person polls for the task of a request they just sent.
CREATE INDEX tasks_request_id_idx ON tasks (request_id) WHERE request_id IS NOT NULL;

-- -- operator actions --------------------------------------------------------

-- Locks the listed tasks (in uuid order, as the transition functions do) and
-- raises TK002 for the first unknown one, TK001 for the first whose state is
-- not in p_allowed, naming the task, its state and the action refused.
CREATE FUNCTION tasker_operator_check_tasks(p_task_uuids uuid[], p_allowed text[],
                                            p_action text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  missing uuid;
  bad record;
BEGIN
  PERFORM 1 FROM tasks t WHERE t.task_uuid = ANY (p_task_uuids)
    ORDER BY t.task_uuid FOR UPDATE;
  SELECT u INTO missing FROM unnest(p_task_uuids) u
    WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_uuid = u) LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'task % does not exist', missing USING ERRCODE = 'TK002';
  END IF;
  SELECT t.task_uuid AS id, t.current_state AS cur INTO bad FROM tasks t
    WHERE t.task_uuid = ANY (p_task_uuids) AND t.current_state <> ALL (p_allowed)
    ORDER BY t.task_uuid LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'task % is %: % applies only to a task that is %', bad.id, bad.cur,
      p_action, array_to_string(p_allowed, ', ', '') USING ERRCODE = 'TK001';
  END IF;
END
$$;

-- Cancels unfinished tasks: their pending, enqueued and failed steps become
-- cancelled, then the tasks. A step already running is left to finish (its
-- result is still recorded) because cancelling cannot stop a worker that has
-- it; since readiness only considers pending and in-progress tasks, nothing
-- new starts. steps_changed counts the steps each task moved.
CREATE FUNCTION tasker_cancel_tasks(p_task_uuids uuid[], p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (task_uuid uuid, from_state text, to_state text, steps_changed integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  meta jsonb := jsonb_build_object('event', 'operator_cancel') || coalesce(p_metadata, '{}');
  moved uuid[];
BEGIN
  PERFORM tasker_operator_check_tasks(p_task_uuids, ARRAY['pending', 'in_progress', 'error'],
                                      'cancel');
  SELECT coalesce(array_agg(s.workflow_step_uuid), '{}') INTO moved FROM workflow_steps s
    WHERE s.task_uuid = ANY (p_task_uuids) AND s.current_state IN ('pending', 'enqueued', 'error');
  IF cardinality(moved) > 0 THEN
    PERFORM tasker_transition_steps(moved, 'cancelled', meta);
  END IF;
  RETURN QUERY
  SELECT r.task_uuid, r.from_state, r.to_state,
         (SELECT count(*)::integer FROM workflow_steps s
           WHERE s.task_uuid = r.task_uuid AND s.workflow_step_uuid = ANY (moved))
  FROM tasker_transition_tasks(p_task_uuids, 'cancelled', meta) r;
END
$$;

-- Retries failed tasks: every failed step goes back to pending with its
-- attempts and backoff reset and its template's retryable flag restored (a
-- non-retryable error may have cleared it), so it runs again with its full
-- retry budget; then the task goes back to pending, unclaimed, and the
-- claimers are woken. Cancelled steps stay cancelled (no transition leaves
-- that state), so a task blocked only by them fails again.
CREATE FUNCTION tasker_retry_tasks(p_task_uuids uuid[], p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (task_uuid uuid, from_state text, to_state text, steps_changed integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  meta jsonb := jsonb_build_object('event', 'operator_retry') || coalesce(p_metadata, '{}');
  moved uuid[];
BEGIN
  PERFORM tasker_operator_check_tasks(p_task_uuids, ARRAY['error'], 'retry');
  SELECT coalesce(array_agg(s.workflow_step_uuid), '{}') INTO moved FROM workflow_steps s
    WHERE s.task_uuid = ANY (p_task_uuids) AND s.current_state = 'error';
  IF cardinality(moved) > 0 THEN
    PERFORM tasker_transition_steps(moved, 'pending', meta);
    UPDATE workflow_steps s
       SET attempts = 0, backoff_until = NULL, retryable = ns.retryable
      FROM named_steps ns
     WHERE s.workflow_step_uuid = ANY (moved) AND ns.named_step_uuid = s.named_step_uuid;
  END IF;
  UPDATE tasks t SET claimed_by = NULL, claimed_at = NULL WHERE t.task_uuid = ANY (p_task_uuids);
  RETURN QUERY
  SELECT r.task_uuid, r.from_state, r.to_state,
         (SELECT count(*)::integer FROM workflow_steps s
           WHERE s.task_uuid = r.task_uuid AND s.workflow_step_uuid = ANY (moved))
  FROM tasker_transition_tasks(p_task_uuids, 'pending', meta) r;
  PERFORM pg_notify('tasker_tasks_ready', '');
END
$$;

-- Settles tasks by hand: their unfinished steps (pending, enqueued, running or
-- failed) and then the tasks become resolved_manually, which children treat as
-- complete. Any task not already resolved may be settled.
CREATE FUNCTION tasker_resolve_tasks(p_task_uuids uuid[], p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (task_uuid uuid, from_state text, to_state text, steps_changed integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  meta jsonb := jsonb_build_object('event', 'operator_resolve') || coalesce(p_metadata, '{}');
  moved uuid[];
BEGIN
  PERFORM tasker_operator_check_tasks(
    p_task_uuids, ARRAY['pending', 'in_progress', 'error', 'complete', 'cancelled'], 'resolve');
  SELECT coalesce(array_agg(s.workflow_step_uuid), '{}') INTO moved FROM workflow_steps s
    WHERE s.task_uuid = ANY (p_task_uuids)
      AND s.current_state IN ('pending', 'enqueued', 'in_progress', 'error');
  IF cardinality(moved) > 0 THEN
    PERFORM tasker_transition_steps(moved, 'resolved_manually', meta);
  END IF;
  RETURN QUERY
  SELECT r.task_uuid, r.from_state, r.to_state,
         (SELECT count(*)::integer FROM workflow_steps s
           WHERE s.task_uuid = r.task_uuid AND s.workflow_step_uuid = ANY (moved))
  FROM tasker_transition_tasks(p_task_uuids, 'resolved_manually', meta) r;
END
$$;

-- -- listings ----------------------------------------------------------------

-- Registered templates by namespace, name, then registration order.
CREATE FUNCTION tasker_list_templates()
RETURNS TABLE (namespace_name text, task_name text, version text, description text,
               step_count integer, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT n.name, t.name, t.version, t.description,
         (SELECT count(*)::integer FROM named_steps s WHERE s.named_task_uuid = t.named_task_uuid),
         t.created_at
  FROM named_tasks t JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
  ORDER BY n.name, t.name, t.created_at, t.version
$$;

-- One registered template; p_version NULL picks the latest, as task creation does.
CREATE FUNCTION tasker_find_template(p_namespace text, p_name text, p_version text)
RETURNS TABLE (named_task_uuid uuid, version text, template jsonb, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT t.named_task_uuid, t.version, t.template, t.created_at
  FROM named_tasks t JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
  WHERE n.name = p_namespace AND t.name = p_name
    AND (p_version IS NULL OR t.version = p_version)
  ORDER BY t.created_at DESC, t.version DESC LIMIT 1
$$;

-- Tasks, newest first, optionally of one state and/or namespace.
CREATE FUNCTION tasker_list_tasks(p_state text, p_namespace text, p_limit integer)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text, task_version text,
               current_state text, priority integer, total_steps integer,
               finished_steps integer, claimed_by text, created_at timestamptz,
               updated_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT t.task_uuid, n.name, nt.name, nt.version, t.current_state, t.priority, c.total,
         c.finished, t.claimed_by, t.created_at, t.updated_at
  FROM tasks t
  JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
  JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
  CROSS JOIN LATERAL (
    SELECT count(*)::integer AS total,
           count(*) FILTER (WHERE s.current_state IN ('complete', 'resolved_manually'))::integer
             AS finished
    FROM workflow_steps s WHERE s.task_uuid = t.task_uuid
  ) c
  WHERE (p_state IS NULL OR t.current_state = p_state)
    AND (p_namespace IS NULL OR n.name = p_namespace)
  ORDER BY t.created_at DESC, t.task_uuid
  LIMIT p_limit
$$;

-- One task with its template and execution status (no row when unknown).
CREATE FUNCTION tasker_task_status(p_task_uuid uuid)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text, task_version text,
               current_state text, priority integer, initiator text, reason text,
               request_id text, claimed_by text, claimed_at timestamptz, context jsonb,
               created_at timestamptz, updated_at timestamptz, execution_status text,
               total_steps integer, finished_steps integer, ready_steps integer)
LANGUAGE sql STABLE AS $$
  SELECT t.task_uuid, n.name, nt.name, nt.version, t.current_state, t.priority, t.initiator,
         t.reason, t.request_id, t.claimed_by, t.claimed_at, t.context, t.created_at,
         t.updated_at, x.status, x.total_steps, x.complete_steps, x.ready_steps
  FROM tasks t
  JOIN named_tasks nt ON nt.named_task_uuid = t.named_task_uuid
  JOIN namespaces n ON n.namespace_uuid = t.namespace_uuid
  JOIN tasker_task_execution_contexts(ARRAY[p_task_uuid]) x ON x.task_uuid = t.task_uuid
  WHERE t.task_uuid = p_task_uuid
$$;

-- The steps of a task in topological order with their retry bookkeeping.
-- last_error is the failed attempt's error message, or the reason recorded by
-- the transition that last failed the step (e.g. a rescue); NULL when none.
CREATE FUNCTION tasker_task_step_details(p_task_uuid uuid)
RETURNS TABLE (workflow_step_uuid uuid, step_name text, handler text, current_state text,
               attempts integer, retry_limit integer, retryable boolean, last_error text,
               backoff_until timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT s.workflow_step_uuid, s.name, s.handler, s.current_state, s.attempts, s.retry_limit,
         s.retryable,
         coalesce(CASE WHEN jsonb_typeof(s.results->'error') = 'object'
                       THEN s.results->'error'->>'message' END,
                  (SELECT coalesce(h.metadata->'error'->>'message', h.metadata->>'reason')
                     FROM workflow_step_transitions h
                    WHERE h.workflow_step_uuid = s.workflow_step_uuid AND h.to_state = 'error'
                    ORDER BY h.sort_key DESC LIMIT 1)),
         s.backoff_until, s.updated_at
  FROM workflow_steps s WHERE s.task_uuid = p_task_uuid ORDER BY s.position
$$;

-- The task a request produced: the one carrying its request_id, or, when the
-- request repeated an existing task (same template version and context), that
-- task (duplicate = true). No row until a node has processed the request,
-- unless an identical task already exists.
CREATE FUNCTION tasker_find_requested_task(p_request jsonb)
RETURNS TABLE (task_uuid uuid, duplicate boolean)
LANGUAGE sql STABLE AS $$
  SELECT t.task_uuid, t.request_id IS DISTINCT FROM p_request->>'request_id'
  FROM tasks t
  WHERE t.request_id = p_request->>'request_id'
     OR t.identity_hash = (SELECT r.identity_hash
                             FROM tasker_resolve_task_requests(jsonb_build_array(p_request)) r)
  ORDER BY (t.request_id IS NOT DISTINCT FROM p_request->>'request_id') DESC
  LIMIT 1
$$;

-- -- queues ------------------------------------------------------------------

-- tasker_mq.metrics_all() with each queue's dead-letter (archive) count.
CREATE FUNCTION tasker_queue_stats()
RETURNS TABLE (queue_name text, queue_length bigint, visible_length bigint,
               oldest_msg_age_seconds double precision, total_messages_sent bigint,
               archived_count bigint)
LANGUAGE plpgsql AS $$
DECLARE
  m tasker_mq.metrics_record;
BEGIN
  FOR m IN SELECT * FROM tasker_mq.metrics_all() LOOP
    queue_name := m.queue_name;
    queue_length := m.queue_length;
    visible_length := m.visible_length;
    oldest_msg_age_seconds := coalesce(m.oldest_msg_age_seconds, 0);
    total_messages_sent := m.total_messages_sent;
    EXECUTE format('SELECT count(*) FROM tasker_mq.%I', 'a_' || m.queue_name)
      INTO archived_count;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Redrives every archived message of a queue (tasker_mq.redrive); returns the
-- ids moved back.
CREATE FUNCTION tasker_redrive_all(p_queue text)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[];
BEGIN
  PERFORM tasker_mq.assert_queue(p_queue);
  EXECUTE format('SELECT coalesce(array_agg(msg_id ORDER BY msg_id), ''{}'') FROM tasker_mq.%I',
                 'a_' || p_queue) INTO ids;
  RETURN QUERY SELECT * FROM tasker_mq.redrive(p_queue, ids);
END
$$;
