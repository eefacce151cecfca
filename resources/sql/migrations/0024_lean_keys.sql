-- Fewer and closer index entries per task.
--
-- History rows are keyed by their owner and sort_key. Each transition
-- inserts a history row and rewrites the previous one (its most_recent flag,
-- which an index predicate reads, so that version is never heap-only). Both
-- row versions went into three indexes: the owner's (uuid, sort_key), the
-- partial most_recent index (the new row only) and a primary key on a random
-- uuid that nothing reads. The random key also scattered every batch's
-- entries over the whole index. (owner, sort_key) becomes the primary key
-- (it was a unique constraint) and the unused uuid column is dropped: two index entries
-- fewer on every transition.
--
-- New tasks and steps get time-ordered keys (UUID version 7: 48 bits of
-- Unix milliseconds, then random bits, RFC 9562), so a batch's rows land
-- next to each other at the right edge of every index keyed by them
-- (tasks, steps, both histories, the edges) instead of on a different leaf
-- page each. Existing keys keep their values; a key is still a uuid and is
-- never read for its time.
--
-- The result batch flagged the touched tasks it could not lock with an
-- UPDATE over every touched task (filtered by NOT ANY over the locked ones).
-- Almost always every touched task is locked, so that update found nothing,
-- yet it read each touched row: 5 % of the database's time in a burndown.
-- It now runs only for the tasks left over, when there are any.

CREATE FUNCTION tasker_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
           set_bit(set_bit(
             overlay(uuid_send(gen_random_uuid())
                     PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp())
                                                      * 1000)::bigint) FROM 3)
                     FROM 1 FOR 6),
             52, 1), 53, 1),
           'hex')::uuid
$$;

ALTER TABLE tasks ALTER COLUMN task_uuid SET DEFAULT tasker_uuid_v7();
ALTER TABLE workflow_steps ALTER COLUMN workflow_step_uuid SET DEFAULT tasker_uuid_v7();

ALTER TABLE task_transitions
  DROP COLUMN task_transition_uuid,
  DROP CONSTRAINT task_transitions_task_uuid_sort_key_key,
  ADD CONSTRAINT task_transitions_pkey PRIMARY KEY (task_uuid, sort_key);
ALTER TABLE workflow_step_transitions
  DROP COLUMN workflow_step_transition_uuid,
  DROP CONSTRAINT workflow_step_transitions_workflow_step_uuid_sort_key_key,
  ADD CONSTRAINT workflow_step_transitions_pkey PRIMARY KEY (workflow_step_uuid, sort_key);

CREATE OR REPLACE FUNCTION tasker_apply_step_results_and_advance(p_results jsonb,
                                                                 p_node_id text,
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
  left_over uuid[];
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
    left_over := ARRAY(SELECT u FROM unnest(touched_tasks) u EXCEPT SELECT unnest(locked));
    IF cardinality(left_over) > 0 THEN
      UPDATE tasks t SET needs_attention = true
        WHERE t.task_uuid = ANY (left_over) AND NOT t.needs_attention;
    END IF;
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
