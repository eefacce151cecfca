-- Creating tasks that start at once wakes no claimer.
--
-- Every insert into tasks raises tasker_tasks_ready (tasks_created_notify), so
-- that tasks created by any path wake the claimers. The request processor
-- starts the tasks it creates in the same transaction (0013), so in a busy
-- system every request batch woke a claimer whose claim found nothing: about
-- 5 % of the database's time in a burndown. A transaction that sets
-- tasker.starting_new_tasks = 'on' (set_config(..., true): this transaction
-- only) takes the wake-up on itself: the request processor raises
-- tasker_tasks_ready when some of the tasks it created were left to the claim
-- path. Every other path is unchanged.

CREATE OR REPLACE FUNCTION tasker_notify_tasks_ready() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('tasker.starting_new_tasks', true) IS DISTINCT FROM 'on' THEN
    PERFORM pg_notify('tasker_tasks_ready', '');
  END IF;
  RETURN NULL;
END
$$;
