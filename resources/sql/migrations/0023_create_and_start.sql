-- The request processor creates, starts and learns the first steps of a
-- batch in one call, where it used five round trips.
--
-- A request batch ran: set_config (tasker.starting_new_tasks), SAVEPOINT,
-- tasker_create_tasks, RELEASE, tasker_start_new_tasks, tasker_ready_steps
-- and, when the claim path kept some of the new tasks, pg_notify. The
-- savepoint was there so that a batch the store refuses (an unknown or
-- damaged template) could be examined request by request in the same
-- transaction; the processor now rolls such a batch back and examines it in
-- a new transaction instead (its messages are consumed by the transaction,
-- so they are back in the queue), and a batch the store accepts needs one
-- call: tasker_create_and_start_tasks. Its rows, in this order:
--   one per request    ordinal, task_uuid, duplicate (as tasker_create_tasks)
--   one per task started   task_uuid, namespace_name, task_name
--                      (as tasker_start_new_tasks; with p_start only)
--   one per ready step of those tasks   ready (tasker_ready_step_objects)
-- the other columns of each row being null. With p_start, the new tasks the
-- claim path keeps raise tasker_tasks_ready, as the processor did.
--
-- A new task was also written three times by that transaction: inserted
-- with needs_attention (the column default, so that the claim path finds
-- it), started, and settled after its first steps were sent. With p_start a
-- task is inserted settled instead (needs_attention false, through the
-- column default below and the transaction-local tasker.settling_new_tasks),
-- the tasks the claim path keeps are flagged here, and the settling after
-- the sends writes only a task whose ready steps were held back.

-- A new task needs attention unless its creator starts and settles it itself.
ALTER TABLE tasks ALTER COLUMN needs_attention
  SET DEFAULT (current_setting('tasker.settling_new_tasks', true) IS DISTINCT FROM 'on');

CREATE FUNCTION tasker_create_and_start_tasks(p_requests jsonb, p_node_id text,
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
BEGIN
  IF p_start THEN
    -- This transaction wakes the claimers itself (0015), for what it leaves
    -- them, and inserts its tasks settled.
    PERFORM set_config('tasker.starting_new_tasks', 'on', true);
    PERFORM set_config('tasker.settling_new_tasks', 'on', true);
  END IF;
  SELECT coalesce(array_agg(c.ordinal ORDER BY c.ordinal), '{}'),
         coalesce(array_agg(c.task_uuid ORDER BY c.ordinal), '{}'),
         coalesce(array_agg(c.duplicate ORDER BY c.ordinal), '{}'),
         coalesce(array_agg(DISTINCT c.task_uuid) FILTER (WHERE NOT c.duplicate), '{}')
    INTO ords, ids, dups, fresh
    FROM tasker_create_tasks(p_requests) c;
  IF p_start THEN
    PERFORM set_config('tasker.settling_new_tasks', 'off', true);
  END IF;
  RETURN QUERY SELECT x.o, x.t, x.d, NULL::text, NULL::text, NULL::jsonb
    FROM unnest(ords, ids, dups) AS x(o, t, d) ORDER BY x.o;
  IF NOT p_start OR cardinality(fresh) = 0 THEN
    RETURN;
  END IF;
  SELECT coalesce(array_agg(s.task_uuid ORDER BY s.task_uuid), '{}'),
         array_agg(s.namespace_name ORDER BY s.task_uuid),
         array_agg(s.task_name ORDER BY s.task_uuid)
    INTO started, started_ns, started_names
    FROM tasker_start_new_tasks(fresh, p_node_id) s;
  IF cardinality(started) < cardinality(fresh) THEN
    UPDATE tasks t SET needs_attention = true
      WHERE t.task_uuid = ANY (fresh) AND NOT (t.task_uuid = ANY (started));
    PERFORM pg_notify('tasker_tasks_ready', '');
  END IF;
  IF cardinality(started) > 0 THEN
    RETURN QUERY SELECT NULL::integer, x.t, NULL::boolean, x.n, x.nm, NULL::jsonb
      FROM unnest(started, started_ns, started_names) AS x(t, n, nm);
    RETURN QUERY SELECT NULL::integer, NULL::uuid, NULL::boolean, NULL::text, NULL::text, r.obj
      FROM tasker_ready_step_objects(started, p_queue_suffix) r(obj);
  END IF;
END
$$;

ALTER FUNCTION tasker_create_and_start_tasks SET plan_cache_mode = force_generic_plan;
