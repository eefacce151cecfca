-- The rescue sweep gives back the attempt of a step that was in progress
-- when the database restarted after a crash, so a worker's result post may
-- commit without waiting for the WAL flush.
--
-- A worker's claim starts a step (in_progress, its attempt counted) and the
-- result post that follows sends the result. A post committed without the
-- flush can be lost in a server crash while the claim before it was flushed
-- (by any later flushed commit, or by the WAL writer a moment after): the
-- step stays in_progress with no result coming, and the sweep rescues it
-- once its timeout has passed, as it rescues the step of a worker that died.
-- That counted as a failed attempt, so a step on its last attempt whose
-- handler had succeeded went to error. The same happened to a post in flight
-- when the server crashed, flushed or not.
--
-- The sweep now tells the two apart. A crash (or an immediate shutdown, or a
-- standby's promotion) empties every unlogged table; tasker_server_restart
-- holds one row, written when it is found empty: the moment the first sweep
-- after the restart ran. A step rescued from in_progress that was started
-- before that moment was interrupted by the restart, not failed by its
-- worker: it goes back to pending with its attempt given back (attempts - 1),
-- whatever attempts it has left, and its history says so. A step started
-- after it is rescued as before. The row written by this migration holds
-- -infinity: no restart since.
--
-- A step started between the server's restart and the first sweep after it
-- (each claimer sweeps every 5 s) counts as started before the restart: if it
-- is rescued, its attempt is given back too.

CREATE UNLOGGED TABLE tasker_server_restart (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  restarted_at timestamptz NOT NULL
);
INSERT INTO tasker_server_restart (restarted_at) VALUES ('-infinity');

-- When the server last restarted after a crash, as far as the sweep can
-- tell: the row's time, written now when the table is empty.
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

CREATE OR REPLACE FUNCTION tasker_rescue_stale_steps(p_limit integer)
RETURNS TABLE (workflow_step_uuid uuid, task_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  restarted timestamptz := tasker_server_restarted_at();
  lost uuid[];
  died uuid[];
  exhausted uuid[];
  interrupted uuid[];
BEGIN
  WITH stale AS (
    SELECT s.workflow_step_uuid AS id, s.current_state AS cur,
           s.attempts >= s.retry_limit OR NOT s.retryable AS spent,
           s.current_state = 'in_progress'
             AND s.last_attempted_at < restarted AS cut_short
    FROM workflow_steps s
    WHERE s.in_process
      AND s.updated_at + make_interval(secs => s.timeout_seconds) < now()
    ORDER BY s.updated_at
    LIMIT greatest(p_limit, 0)
    FOR UPDATE SKIP LOCKED
  )
  SELECT coalesce(array_agg(id) FILTER (WHERE cur = 'enqueued'), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cur = 'in_progress' AND NOT cut_short
                                          AND NOT spent), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cur = 'in_progress' AND NOT cut_short
                                          AND spent), '{}'),
         coalesce(array_agg(id) FILTER (WHERE cut_short), '{}')
    INTO lost, died, exhausted, interrupted FROM stale;

  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state
    FROM tasker_transition_steps(lost, 'pending', jsonb_build_object('event', 'rescued',
           'reason', 'enqueued longer than its timeout: step message lost or never taken')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(lost) > 0;
  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state
    FROM tasker_transition_steps(died, 'pending', jsonb_build_object('event', 'rescued',
           'reason', 'in progress longer than its timeout: worker died or timed out')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(died) > 0;
  RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state
    FROM tasker_transition_steps(exhausted, 'error', jsonb_build_object('event', 'rescued',
           'reason', 'in progress longer than its timeout with no attempts left')) r
    JOIN workflow_steps s ON s.workflow_step_uuid = r.workflow_step_uuid
    WHERE cardinality(exhausted) > 0;
  IF cardinality(interrupted) > 0 THEN
    RETURN QUERY SELECT r.workflow_step_uuid, s.task_uuid, r.from_state, r.to_state
      FROM tasker_transition_steps(interrupted, 'pending', jsonb_build_object(
             'event', 'rescued', 'attempt_given_back', true,
             'reason', 'in progress when the database restarted after a crash: its result may '
                       'have been lost with the restart; the attempt is not counted')) r
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
