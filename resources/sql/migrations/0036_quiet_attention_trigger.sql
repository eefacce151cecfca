-- The attention trigger returns at once when no changed step needs it.
--
-- Every update of workflow_steps runs the trigger of 0007/0022. Its two
-- statements (lock the tasks of the steps that left flight or became
-- startable, raise their flag) ran even when no changed step was in one of
-- those states, which is every worker's start (enqueued -> in_progress) and
-- every dispatch's enqueue outside the processors' calls: about 70 µs per
-- statement in a quiet run (pgbench, one-row update of a step, trigger on
-- against off), whatever the number of rows. A look at the changed rows
-- first costs next to nothing, and when it finds none the two statements
-- would have locked and written nothing.

CREATE OR REPLACE FUNCTION tasker_steps_need_attention() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Set by a caller that holds the tasks locked and settles them itself.
  IF current_setting('tasker.settling_attention', true) = 'on' THEN
    RETURN NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM changed_steps c
                  WHERE c.current_state IN ('pending', 'error', 'complete', 'cancelled',
                                            'resolved_manually')) THEN
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
