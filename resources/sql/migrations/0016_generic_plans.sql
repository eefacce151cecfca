-- The transition path plans each statement once per connection.
--
-- PL/pgSQL caches a statement's plan source for the life of the connection,
-- but for the first five calls, and afterwards whenever the generic plan's
-- estimated cost is above the average custom plan's, it plans the statement
-- again with the call's values. A statement driven by an array of keys is
-- always such a case: the generic plan assumes a few rows, a custom plan for a
-- one-element array fewer still. Under pg_stat_statements (track = all,
-- track_planning = on) the linear-4 latency run showed the lock statement of
-- tasker_transition_steps_each planned at every one of its 7,194 calls
-- (0.14 ms to plan, 0.06 ms to run), and the attention update of
-- tasker_settle_attention planned at half of its calls (0.49 ms each): about
-- 1 ms of planning on every step hop.
--
-- The functions below touch only the rows they are given and already pin
-- their plans to index access (0012, 0013, 0014), so the plan a call's values
-- would choose is the generic one: force it, and plan each statement once.

ALTER FUNCTION tasker_transition_steps_each SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_transition_tasks SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_apply_step_results SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_lock_result_tasks SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_lock_tasks_for_advance SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_finalize_given_tasks SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_settle_attention SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_steps_need_attention SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_step_states SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_task_states SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_release_claims SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_extend_claims SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_start_new_tasks SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION tasker_start_steps SET plan_cache_mode = force_generic_plan;
