-- One round trip where the result processor and the worker used two.
--
-- tasker_lock_and_apply_step_results: the result processor locked the tasks
-- of a batch (tasker_lock_result_tasks) and then applied it
-- (tasker_apply_step_results), two statements in a row on every batch.
--
-- tasker_start_steps: a worker read the state of the steps it had just
-- received (tasker_step_states) and then moved the enqueued ones to
-- in_progress. Now one call locks them, moves the enqueued ones and reports
-- every state, so the worker can tell duplicates from unknown steps. Locking
-- first also closes the window in which a step could leave `enqueued` (a
-- rescue) between the read and the transition, failing the worker's batch.
--
-- workflow_steps gets fillfactor 80: a step result is written right after its
-- step's state changed in the same transaction, with the same updated_at, so
-- that second update changes no indexed column and can stay on its page as a
-- heap-only tuple when the page has room, instead of adding an entry to every
-- index of the table.

CREATE FUNCTION tasker_lock_and_apply_step_results(p_results jsonb)
RETURNS TABLE (ordinal integer, workflow_step_uuid uuid, outcome text, detail text)
LANGUAGE plpgsql AS $$
BEGIN
  IF jsonb_typeof(p_results) = 'array' THEN
    PERFORM tasker_lock_result_tasks(ARRAY(
      SELECT DISTINCT e->>'task_uuid' FROM jsonb_array_elements(p_results) AS e
      WHERE e->>'task_uuid' IS NOT NULL));
  END IF;
  RETURN QUERY SELECT * FROM tasker_apply_step_results(p_results);
END
$$;

CREATE FUNCTION tasker_start_steps(p_step_uuids uuid[], p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (workflow_step_uuid uuid, current_state text, started boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  ids uuid[];
  curs text[];
  to_start uuid[];
BEGIN
  SELECT coalesce(array_agg(l.id ORDER BY l.id), '{}'), coalesce(array_agg(l.cur ORDER BY l.id), '{}')
    INTO ids, curs
    FROM (SELECT s.workflow_step_uuid AS id, s.current_state AS cur FROM workflow_steps s
          WHERE s.workflow_step_uuid = ANY (p_step_uuids)
          ORDER BY s.workflow_step_uuid FOR UPDATE) l;
  to_start := ARRAY(SELECT x.id FROM unnest(ids, curs) AS x(id, cur) WHERE x.cur = 'enqueued');
  IF cardinality(to_start) > 0 THEN
    PERFORM tasker_transition_steps(to_start, 'in_progress', p_metadata);
  END IF;
  RETURN QUERY SELECT x.id, x.cur, x.cur = 'enqueued' FROM unnest(ids, curs) AS x(id, cur);
END
$$;

ALTER FUNCTION tasker_start_steps SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off;

ALTER TABLE workflow_steps SET (fillfactor = 80);
