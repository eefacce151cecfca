-- A worker's start moves its steps itself.
--
-- tasker_start_steps locked the steps a claim names, read their states, and
-- then called tasker_transition_steps_each for the enqueued ones, which
-- checked the target state, locked the same rows again, checked each move
-- against allowed_step_transitions, wrote the history and updated the steps.
-- A worker claims about ten steps at a time, so that second function's fixed
-- cost (about 0.8 ms a call) came to more than the writing itself: half of a
-- claim's database time. The rows are locked and known to be `enqueued`
-- here, and enqueued -> in_progress is a move the state machine always
-- allows (0001_core.sql), so the function now writes the history rows and
-- the steps itself, with the same values as the transition. Same signature,
-- same results; the settings of 0020 are restated (CREATE OR REPLACE resets
-- them).
--
-- tasker_append_step_history writes the history rows of such a move (rows
-- locked, move known to be allowed), for this function and the result
-- completion of 0028.

-- Appends one history row per step, p_from -> p_to with that step's
-- metadata, and clears the previous row's most_recent flag. The caller holds
-- the steps locked and has checked the move.
CREATE FUNCTION tasker_append_step_history(p_step_uuids uuid[], p_from text, p_to text,
                                           p_metadata jsonb[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  WITH previous AS (
    UPDATE workflow_step_transitions st SET most_recent = false
     WHERE st.workflow_step_uuid = ANY (p_step_uuids) AND st.most_recent
    RETURNING st.workflow_step_uuid, st.sort_key
  )
  INSERT INTO workflow_step_transitions
      (workflow_step_uuid, from_state, to_state, metadata, sort_key, most_recent)
    SELECT x.id, p_from, p_to, coalesce(x.meta, '{}'), coalesce(p.sort_key, 0) + 1, true
    FROM unnest(p_step_uuids, p_metadata) AS x(id, meta)
    LEFT JOIN previous p ON p.workflow_step_uuid = x.id;
END
$$;

ALTER FUNCTION tasker_append_step_history SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;

CREATE OR REPLACE FUNCTION tasker_start_steps(p_step_uuids uuid[], p_metadata jsonb DEFAULT '{}')
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
    PERFORM tasker_append_step_history(
      to_start, 'enqueued', 'in_progress',
      array_fill(coalesce(p_metadata, '{}'::jsonb), ARRAY[cardinality(to_start)]));
    UPDATE workflow_steps s
       SET current_state = 'in_progress', in_process = true, attempts = s.attempts + 1,
           last_attempted_at = now(), processed = false, updated_at = now()
     WHERE s.workflow_step_uuid = ANY (to_start);
  END IF;
  RETURN QUERY SELECT x.id, x.cur, x.cur = 'enqueued' FROM unnest(ids, curs) AS x(id, cur);
END
$$;

ALTER FUNCTION tasker_start_steps SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off SET plan_cache_mode = force_generic_plan;
