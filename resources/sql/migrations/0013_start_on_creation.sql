-- New tasks start in the transaction that creates them.
--
-- A task used to travel from its request to its first step through three
-- transactions on three executors: the request processor created it (and
-- raised tasker_tasks_ready), a claimer claimed and started it (and raised
-- tasker_tasks_claimed), an enqueuer sent its root steps and released the
-- claim: two wake-ups and four updates of the task row before any step ran.
-- The request processor now starts the tasks it has just created and sends
-- their root steps itself (the rows are its own until it commits, so no claim
-- is needed), as the step result processor already advances the tasks whose
-- results it applies.
--
-- The claim path orders claimable tasks by effective priority. So that a new
-- task never overtakes one waiting there, new tasks start at once only when
-- no other claimable task has a ready step; otherwise they join the claim
-- path as before.

-- Starts the listed tasks (created by the caller's transaction, still
-- pending) on p_node_id unless another claimable task is ready; returns the
-- tasks started, none when the claim path has work waiting.
CREATE FUNCTION tasker_start_new_tasks(p_task_uuids uuid[], p_node_id text)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  IF coalesce(cardinality(p_task_uuids), 0) = 0 THEN
    RETURN;
  END IF;
  IF EXISTS (
    SELECT 1 FROM tasks t
    CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                        WHERE r.task_uuid = t.task_uuid AND r.ready LIMIT 1) ok
    WHERE t.needs_attention AND t.claimed_by IS NULL
      AND t.current_state IN ('pending', 'in_progress')
      AND t.task_uuid <> ALL (p_task_uuids)) THEN
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

ALTER FUNCTION tasker_start_new_tasks SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off;
