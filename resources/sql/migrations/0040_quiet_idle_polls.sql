-- A task claimer's or finalizer's poll that finds nothing to do returns
-- after an index probe or two.
--
-- New tasks start when they are created, so a claimer's poll (every 50 ms
-- per executor by default) almost always finds nothing; it still ran the
-- whole claim: in a latency run at 20 tasks/s, 630 polls in 30 s at 0.56 ms
-- of the database's time each (most of it starting up the claim statement's
-- plan), about 1.2 % of a core for nothing. The claim takes only tasks that
-- need attention and are unclaimed, or whose claim has lapsed; when neither
-- exists (tasks_claimable_idx and tasks_claimed_by_idx, each read with no
-- more than one entry) the call returns at once. Otherwise it is the claim
-- of 0004, unchanged.
CREATE OR REPLACE FUNCTION tasker_claim_and_start_tasks(p_node_id text, p_limit integer,
                                                        p_claim_timeout_seconds integer,
                                                        p_aging_seconds double precision DEFAULT 60)
RETURNS TABLE (task_uuid uuid, namespace_name text, started boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  claimed uuid[];
  ns text[];
  to_start uuid[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM tasks t WHERE t.attention_unfinished AND t.claimed_by IS NULL)
     AND NOT EXISTS (SELECT 1 FROM tasks t
                      WHERE t.claimed_by IS NOT NULL
                        AND t.current_state IN ('pending', 'in_progress')
                        AND t.claimed_at + make_interval(secs => t.claim_timeout_seconds)
                            < now()) THEN
    RETURN;
  END IF;
  SELECT coalesce(array_agg(c.task_uuid), '{}'), coalesce(array_agg(c.namespace_name), '{}')
    INTO claimed, ns
    FROM tasker_claim_ready_tasks(p_node_id, p_limit, p_claim_timeout_seconds, p_aging_seconds) c;
  SELECT coalesce(array_agg(t.task_uuid), '{}') INTO to_start
    FROM tasks t WHERE t.task_uuid = ANY (claimed) AND t.current_state = 'pending';
  IF cardinality(to_start) > 0 THEN
    PERFORM tasker_transition_tasks(to_start, 'in_progress',
                                    jsonb_build_object('event', 'claimed', 'node_id', p_node_id));
  END IF;
  RETURN QUERY
  SELECT c.id, c.ns, c.id = ANY (to_start) FROM unnest(claimed, ns) AS c(id, ns);
END
$$;
-- The two probes read the partial indexes whatever the table's statistics
-- say (a sequential scan of tasks on every poll is what this avoids).
ALTER FUNCTION tasker_claim_and_start_tasks(text, integer, integer, double precision)
  SET enable_seqscan = off;

-- The finalizer likewise: its poll (every 100 ms per executor) looks for
-- tasks in progress that are flagged for attention and have nothing in
-- flight or startable, and then finalized an empty list, 0.455 ms a poll in
-- the same run. It now returns at once when no running task is flagged
-- (tasks_attention_idx, one entry at most) or none of the flagged ones can
-- finish; otherwise it is the poll of 0031 and 0038.
CREATE OR REPLACE FUNCTION tasker_finalize_tasks(p_limit integer)
RETURNS TABLE (task_uuid uuid, to_state text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  picked uuid[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM tasks t WHERE t.attention_running) THEN
    RETURN;
  END IF;
  SELECT coalesce(array_agg(c.task_uuid), '{}') INTO picked
  FROM (SELECT t.task_uuid FROM tasks t
        LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                           WHERE s.task_uuid = t.task_uuid AND s.in_process LIMIT 1) fl ON true
        LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                           WHERE r.task_uuid = t.task_uuid LIMIT 1) st ON true
        WHERE t.attention_running AND fl.found IS NULL AND st.found IS NULL
        ORDER BY t.task_uuid
        LIMIT greatest(p_limit, 0)
        FOR UPDATE OF t SKIP LOCKED) c;
  IF cardinality(picked) = 0 THEN
    RETURN;
  END IF;
  RETURN QUERY SELECT f.task_uuid, f.to_state FROM tasker_finalize_given_tasks(picked) f;
END
$$;
ALTER FUNCTION tasker_finalize_tasks(integer) SET enable_seqscan = off
  SET enable_hashjoin = off SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;
