-- The result processor applies a batch and locks the tasks it touched in one
-- round trip, where it used two.
--
-- After applying results (tasker_lock_and_apply_step_results) the result
-- processor locked, in a second call, the tasks whose steps changed state
-- (tasker_lock_tasks_for_advance), to send their next steps and finalize
-- them in the same transaction. tasker_apply_step_results_and_lock does both:
-- first one row per result (ordinal, step, outcome, detail; the other
-- columns null), then one row per task locked for advancing (task_uuid,
-- namespace_name, task_name), then one row with the number of tasks touched
-- (touched). A task whose step completed, failed or will be retried is
-- touched; those other transactions hold, or another node's live claim, are
-- skipped as before and left to the claim path.

CREATE FUNCTION tasker_apply_step_results_and_lock(p_results jsonb, p_node_id text)
RETURNS TABLE (ordinal integer, workflow_step_uuid uuid, outcome text, detail text,
               task_uuid uuid, namespace_name text, task_name text, touched integer)
LANGUAGE plpgsql AS $$
DECLARE
  ords integer[];
  steps uuid[];
  outcomes text[];
  details text[];
  touched_tasks uuid[];
BEGIN
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
  RETURN QUERY SELECT x.o, x.s, x.oc, x.d, NULL::uuid, NULL::text, NULL::text, NULL::integer
    FROM unnest(ords, steps, outcomes, details) AS x(o, s, oc, d) ORDER BY x.o;
  IF cardinality(touched_tasks) > 0 THEN
    RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::text, NULL::text,
                        l.task_uuid, l.namespace_name, l.task_name, NULL::integer
      FROM tasker_lock_tasks_for_advance(touched_tasks, p_node_id) l;
  END IF;
  RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::text, NULL::text, NULL::uuid, NULL::text,
                      NULL::text, cardinality(touched_tasks);
END
$$;
