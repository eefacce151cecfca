-- A result batch no longer rewrites the task rows it advances twice.
--
-- When a result moved a step to complete (or error, or pending for a retry),
-- the trigger of 0007 set its task's needs_attention, and the result
-- processor, which advances those tasks in the same transaction, then set it
-- back (tasker_settle_attention after sending the next steps): two row
-- versions of every task on every step hop, neither of them heap-only (the
-- flag is in two partial indexes), and for a task that had finished, a third
-- when it was finalized.
--
-- Now tasker_apply_step_results_and_advance (0021) applies a batch with the
-- trigger standing aside (transaction-local setting
-- tasker.settling_attention): the batch has locked every task it names
-- beforehand, which is the trigger's other duty. It raises the flag itself only on the touched tasks it does not
-- lock for advancing (another node's live claim, a finished task): exactly
-- what the trigger did for them. The tasks it locks are settled by
-- tasker_finish_dispatch, which now finalizes before it settles, so a task
-- that is finished is not settled first: its row is written once, by the
-- transition to complete or error. A task still in flight is settled to the
-- value it already has, which writes nothing.

CREATE OR REPLACE FUNCTION tasker_steps_need_attention() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Set by a caller that holds the tasks locked and settles them itself.
  IF current_setting('tasker.settling_attention', true) = 'on' THEN
    RETURN NULL;
  END IF;
  -- Always lock, even a task already marked: a transaction advancing the task
  -- (enqueuer, claimer, another result batch) holds its row, and waiting for
  -- it makes this transaction's later statements see what that one did, so
  -- the last of two racing results always sees both and advances the task.
  -- Fixed lock order: two statements marking the same tasks cannot deadlock.
  PERFORM 1 FROM tasks t
    WHERE t.task_uuid IN (SELECT c.task_uuid FROM changed_steps c
                          WHERE c.current_state IN ('pending', 'error', 'complete', 'cancelled',
                                                    'resolved_manually'))
    ORDER BY t.task_uuid FOR UPDATE;
  UPDATE tasks t SET needs_attention = true
    WHERE t.task_uuid IN (SELECT c.task_uuid FROM changed_steps c
                          WHERE c.current_state IN ('pending', 'error', 'complete', 'cancelled',
                                                    'resolved_manually'))
      AND NOT t.needs_attention;
  RETURN NULL;
END
$$;

ALTER FUNCTION tasker_steps_need_attention SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;

-- Finalizes before it settles: a finished task is written once.
CREATE OR REPLACE FUNCTION tasker_finish_dispatch(p_enqueued uuid[], p_metadata jsonb,
                                                  p_tasks uuid[], p_finalize boolean)
RETURNS TABLE (task_uuid uuid, to_state text)
LANGUAGE plpgsql AS $$
DECLARE
  done uuid[] := '{}';
  done_states text[] := '{}';
  rest uuid[];
BEGIN
  IF coalesce(cardinality(p_enqueued), 0) > 0 THEN
    PERFORM tasker_transition_steps_each(
      p_enqueued, 'enqueued', array_fill(coalesce(p_metadata, '{}'::jsonb),
                                         ARRAY[cardinality(p_enqueued)]));
  END IF;
  IF coalesce(cardinality(p_tasks), 0) > 0 THEN
    IF p_finalize THEN
      SELECT coalesce(array_agg(f.task_uuid), '{}'), coalesce(array_agg(f.to_state), '{}')
        INTO done, done_states
        FROM tasker_finalize_given_tasks(p_tasks) f;
      RETURN QUERY SELECT x.t, x.s FROM unnest(done, done_states) AS x(t, s);
    END IF;
    rest := ARRAY(SELECT u FROM unnest(p_tasks) u WHERE NOT (u = ANY (done)));
    IF cardinality(rest) > 0 THEN
      PERFORM tasker_settle_attention(rest);
    END IF;
  END IF;
END
$$;
