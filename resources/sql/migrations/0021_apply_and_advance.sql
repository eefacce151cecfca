-- The result processor learns what to send next in the call that applies a
-- batch, where it used a second round trip.
--
-- tasker_apply_step_results_and_lock (0019) applied a batch and locked the
-- tasks it may advance; the processor then asked for those tasks' ready
-- steps (tasker_ready_steps) in a round trip of its own on every step hop.
-- tasker_apply_step_results_and_advance does the three in one call and
-- replaces it. Its rows, in this order:
--   one per result     ordinal, workflow_step_uuid, outcome, detail
--   one per task locked for advancing   task_uuid, namespace_name, task_name
--   one per ready step of those tasks   ready (tasker_ready_step_objects)
--   one last row       touched: the number of tasks whose steps changed state
-- the other columns of each row being null. It applies the batch with the
-- attention trigger standing aside and flags the touched tasks it does not
-- lock itself (see 0022_result_attention.sql).

-- The ready steps of p_task_uuids (tasker_ready_steps, same order), each as a
-- JSON object of that row plus queue_exists: whether the queue
-- namespace_name || p_queue_suffix exists (true when p_queue_suffix is null).
CREATE FUNCTION tasker_ready_step_objects(p_task_uuids uuid[], p_queue_suffix text)
RETURNS SETOF jsonb
LANGUAGE sql STABLE AS $$
  SELECT to_jsonb(r) || jsonb_build_object(
           'queue_exists', p_queue_suffix IS NULL OR EXISTS (
             SELECT 1 FROM tasker_mq.meta m WHERE m.queue_name = r.namespace_name || p_queue_suffix))
  FROM tasker_ready_steps(p_task_uuids) r
$$;

CREATE FUNCTION tasker_apply_step_results_and_advance(p_results jsonb, p_node_id text,
                                                      p_queue_suffix text)
RETURNS TABLE (ordinal integer, workflow_step_uuid uuid, outcome text, detail text,
               task_uuid uuid, namespace_name text, task_name text, ready jsonb,
               touched integer)
LANGUAGE plpgsql AS $$
DECLARE
  ords integer[];
  steps uuid[];
  outcomes text[];
  details text[];
  touched_tasks uuid[];
  locked uuid[] := '{}';
  locked_ns text[];
  locked_names text[];
BEGIN
  -- tasker_lock_and_apply_step_results locks every task the batch names
  -- before it changes a step; what the trigger would flag is handled below.
  PERFORM set_config('tasker.settling_attention', 'on', true);
  -- A result whose step changed state named an existing step of its task, so
  -- its task_uuid is a well-formed uuid (otherwise it is an unknown_step).
  SELECT coalesce(array_agg(a.ordinal ORDER BY a.ordinal), '{}'),
         coalesce(array_agg(a.workflow_step_uuid ORDER BY a.ordinal), '{}'),
         coalesce(array_agg(a.outcome ORDER BY a.ordinal), '{}'),
         coalesce(array_agg(a.detail ORDER BY a.ordinal), '{}'),
         coalesce(array_agg(DISTINCT (p_results->a.ordinal->>'task_uuid')::uuid)
                    FILTER (WHERE a.outcome IN ('completed', 'retrying', 'failed')), '{}')
    INTO ords, steps, outcomes, details, touched_tasks
    FROM tasker_lock_and_apply_step_results(p_results) a;
  PERFORM set_config('tasker.settling_attention', 'off', true);
  RETURN QUERY SELECT x.o, x.s, x.oc, x.d, NULL::uuid, NULL::text, NULL::text, NULL::jsonb,
                      NULL::integer
    FROM unnest(ords, steps, outcomes, details) AS x(o, s, oc, d) ORDER BY x.o;
  IF cardinality(touched_tasks) > 0 THEN
    SELECT coalesce(array_agg(l.task_uuid ORDER BY l.task_uuid), '{}'),
           array_agg(l.namespace_name ORDER BY l.task_uuid),
           array_agg(l.task_name ORDER BY l.task_uuid)
      INTO locked, locked_ns, locked_names
      FROM tasker_lock_tasks_for_advance(touched_tasks, p_node_id) l;
    -- The touched tasks this call leaves to others, flagged as the trigger
    -- would have (their rows are locked already).
    UPDATE tasks t SET needs_attention = true
      WHERE t.task_uuid = ANY (touched_tasks) AND NOT (t.task_uuid = ANY (locked))
        AND NOT t.needs_attention;
  END IF;
  IF cardinality(locked) > 0 THEN
    RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::text, NULL::text, x.t, x.n, x.nm,
                        NULL::jsonb, NULL::integer
      FROM unnest(locked, locked_ns, locked_names) AS x(t, n, nm);
    RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::text, NULL::text, NULL::uuid,
                        NULL::text, NULL::text, r.obj, NULL::integer
      FROM tasker_ready_step_objects(locked, p_queue_suffix) r(obj);
  END IF;
  RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::text, NULL::text, NULL::uuid, NULL::text,
                      NULL::text, NULL::jsonb, cardinality(touched_tasks);
END
$$;

ALTER FUNCTION tasker_apply_step_results_and_advance SET plan_cache_mode = force_generic_plan;

DROP FUNCTION tasker_apply_step_results_and_lock(jsonb, text);
