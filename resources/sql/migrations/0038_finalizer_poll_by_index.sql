-- The task finalizer's poll reads the tasks flagged for attention by their
-- index, whatever the statistics say.
--
-- tasker_finalize_tasks looks for tasks in progress that are flagged for
-- attention (tasks_attention_idx, a partial index on attention_running) and
-- have nothing in flight or startable. Its plan was left to the planner,
-- which has no statistics for the generated flag and takes it to hold for
-- half the table: it read every task. During a 20,000-task burndown an idle
-- finalizer's poll took 3.7 ms (pg_stat_statements), and its cost grows
-- with the table. Planned like the other batch statements: generic plans,
-- no sequential scans, nested loops on keys.

ALTER FUNCTION tasker_finalize_tasks(integer) SET enable_seqscan = off
  SET enable_hashjoin = off SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;
