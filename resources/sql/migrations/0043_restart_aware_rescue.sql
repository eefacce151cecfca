-- The rescue sweep gives back the attempt of a step that was in progress
-- when the database server restarted, so a worker's result post may commit
-- without waiting for the WAL flush.
--
-- A worker's claim starts a step (in_progress, its attempt counted) and the
-- result post that follows sends the result. A post committed without the
-- flush can be lost in a server crash while the claim before it was flushed
-- (by any later flushed commit, or by the WAL writer a moment after): the
-- step stays in_progress with no result coming, and the sweep rescues it
-- once its timeout has passed, as it rescues the step of a worker that died.
-- That counted as a failed attempt, so a step on its last attempt whose
-- handler had succeeded went to error. The same happened to a post that
-- failed because the server went down under it, whatever its flush setting.
--
-- The sweep now tells them apart. A step rescued from in_progress that was
-- started (last_attempted_at) before the server's last start or its last
-- recovery from a crash was cut short by the server, not failed by its
-- worker: it goes back to pending with its attempt given back (attempts - 1),
-- whatever attempts it has left and whether or not it is retryable, and its
-- history says so (attempt_given_back, with the attempt). An attempt is given
-- back once: the same attempt cut short again counts as failed, so a step
-- whose runs keep coinciding with crashes still ends. A step started after
-- the restart is rescued as before.
--
-- The server's start is pg_postmaster_start_time(). A crash (or an immediate
-- shutdown, or a standby's promotion) does not restart the postmaster but
-- empties every unlogged table: tasker_server_restart holds one row, written
-- when found empty by the sweep or by a worker connecting (before its first
-- claim), so the row's time is before every step started after the
-- recovery. A step started between the recovery and the first of those
-- counts as started before it. The row written by this migration holds
-- -infinity: no recovery since.

CREATE UNLOGGED TABLE tasker_server_restart (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  restarted_at timestamptz NOT NULL
);
INSERT INTO tasker_server_restart (restarted_at) VALUES ('-infinity');

-- When the server last recovered from a crash, as far as Tasker can tell:
-- the row's time, written now when the table is empty.
CREATE FUNCTION tasker_server_restarted_at() RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
  at timestamptz;
BEGIN
  SELECT r.restarted_at INTO at FROM tasker_server_restart r;
  IF at IS NULL THEN
    INSERT INTO tasker_server_restart (restarted_at) VALUES (now())
      ON CONFLICT (singleton) DO NOTHING;
    SELECT r.restarted_at INTO at FROM tasker_server_restart r;
  END IF;
  RETURN at;
END
$$;

-- One more column: whether the step's attempt was given back. A caller that
-- names the first four columns (a node of the previous release) works on.
DROP FUNCTION tasker_rescue_stale_steps(integer);
CREATE FUNCTION tasker_rescue_stale_steps(p_limit integer)
RETURNS TABLE (workflow_step_uuid uuid, task_uuid uuid, from_state text, to_state text,
               attempt_given_back boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  restarted timestamptz := greatest(coalesce(tasker_server_restarted_at(), '-infinity'),
                                    pg_postmaster_start_time());
  lost uuid[];
  died uuid[];
  exhausted uuid[];
  interrupted uuid[];
  interrupted_meta jsonb[];
BEGIN
  WITH stale AS (
    SELECT s.workflow_step_uuid AS id, s.current_state AS cur, s.attempts,
           s.attempts >= s.retry_limit OR NOT s.retryable AS spent,
           s.current_state = 'in_progress'
             AND coalesce(s.last_attempted_at < restarted, false) AS before_restart
    FROM workflow_steps s
    WHERE s.in_process
      AND s.updated_at + make_interval(secs => s.timeout_seconds) < now()
    ORDER BY s.updated_at
    LIMIT greatest(p_limit, 0)
    FOR UPDATE SKIP LOCKED
  ), judged AS (
    SELECT st.*,
           st.before_restart AND NOT EXISTS (
             SELECT 1 FROM workflow_step_transitions h
             WHERE h.workflow_step_uuid = st.id
               AND h.metadata->>'attempt_given_back' = 'true'
               AND h.metadata->>'attempt' = st.attempts::text) AS cut_short
    FROM stale st
  )
  SELECT coalesce(array_agg(id) FILTER (WHERE cur = 'enqueued'), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cur = 'in_progress' AND NOT cut_short
                                          AND NOT spent), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cur = 'in_progress' AND NOT cut_short
                                          AND spent), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cut_short), '{}'),
         coalesce(array_agg(jsonb_build_object(
           'event', 'rescued', 'attempt_given_back', true, 'attempt', attempts,
           'reason', 'in progress when the database server restarted: its result may have '
                     'been lost with the restart; the attempt is not counted'))
           FILTER (WHERE cut_short), '{}')
    INTO lost, died, exhausted, interrupted, interrupted_meta FROM judged;

  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state, false
    FROM tasker_transition_steps(lost, 'pending', jsonb_build_object('event', 'rescued',
           'reason', 'enqueued longer than its timeout: step message lost or never taken')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(lost) > 0;
  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state, false
    FROM tasker_transition_steps(died, 'pending', jsonb_build_object('event', 'rescued',
           'reason', 'in progress longer than its timeout: worker died or timed out')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(died) > 0;
  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state, false
    FROM tasker_transition_steps(exhausted, 'error', jsonb_build_object('event', 'rescued',
           'reason', 'in progress longer than its timeout with no attempts left')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(exhausted) > 0;
  IF cardinality(interrupted) > 0 THEN
    RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state, true
      FROM tasker_transition_steps_each(interrupted, 'pending', interrupted_meta) r
      JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid;
    UPDATE workflow_steps s SET attempts = greatest(s.attempts - 1, 0)
     WHERE s.workflow_step_uuid = ANY (interrupted);
  END IF;

  IF cardinality(lost) + cardinality(died) + cardinality(exhausted)
     + cardinality(interrupted) > 0 THEN
    PERFORM pg_notify('tasker_tasks_ready', '');
  END IF;
END
$$;
