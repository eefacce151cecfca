-- Core schema: templates, tasks, workflow steps, the DAG edges between steps,
-- and the two state machines with their append-only transition histories.
--
-- State is enforced in one place: tasker_transition_tasks / tasker_transition_steps
-- check every row against the allowed_*_transitions tables, append history and
-- keep the denormalised current_state columns in sync. Nothing else writes
-- current_state.
--
-- Errors raised here carry project SQLSTATEs so callers can tell them apart:
--   TK001 illegal state transition   TK002 row or template not found
--   TK003 template version conflict  TK004 invalid request or template

-- -- templates ---------------------------------------------------------------

CREATE TABLE namespaces (
  namespace_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A registered (namespace, name, version) is immutable: `template` holds the
-- document it was registered with, and named_steps its relational form.
CREATE TABLE named_tasks (
  named_task_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  namespace_uuid uuid NOT NULL REFERENCES namespaces,
  name text NOT NULL,
  version text NOT NULL,
  description text NOT NULL DEFAULT '',
  template jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (namespace_uuid, name, version)
);

CREATE TABLE named_steps (
  named_step_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  named_task_uuid uuid NOT NULL REFERENCES named_tasks ON DELETE CASCADE,
  name text NOT NULL,
  handler text NOT NULL,
  -- Topological position: every step comes after its dependencies.
  position integer NOT NULL,
  depends_on text[] NOT NULL DEFAULT '{}',
  retryable boolean NOT NULL DEFAULT true,
  retry_limit integer NOT NULL DEFAULT 3 CHECK (retry_limit >= 0),
  backoff_base_ms integer NOT NULL DEFAULT 1000 CHECK (backoff_base_ms >= 1),
  backoff_max_ms integer NOT NULL DEFAULT 60000,
  backoff_jitter double precision NOT NULL DEFAULT 0.1 CHECK (backoff_jitter BETWEEN 0 AND 1),
  timeout_seconds integer NOT NULL DEFAULT 300 CHECK (timeout_seconds > 0),
  inputs jsonb NOT NULL DEFAULT '{}',
  UNIQUE (named_task_uuid, name),
  UNIQUE (named_task_uuid, position)
);

-- -- state machines ----------------------------------------------------------

CREATE TABLE task_states (
  state text PRIMARY KEY,
  terminal boolean NOT NULL
);
INSERT INTO task_states (state, terminal) VALUES
  ('pending', false), ('in_progress', false), ('error', false),
  ('complete', true), ('cancelled', true), ('resolved_manually', true);

CREATE TABLE step_states (
  state text PRIMARY KEY,
  terminal boolean NOT NULL
);
INSERT INTO step_states (state, terminal) VALUES
  ('pending', false), ('enqueued', false), ('in_progress', false), ('error', false),
  ('complete', true), ('cancelled', true), ('resolved_manually', true);

-- from_state NULL is the initial transition written when a row is created.
CREATE TABLE allowed_task_transitions (
  from_state text NOT NULL REFERENCES task_states,
  to_state text NOT NULL REFERENCES task_states,
  PRIMARY KEY (from_state, to_state)
);
INSERT INTO allowed_task_transitions (from_state, to_state) VALUES
  ('pending', 'in_progress'),
  ('in_progress', 'complete'),
  ('in_progress', 'error'),
  ('error', 'pending'),
  -- any non-terminal state may be cancelled
  ('pending', 'cancelled'), ('in_progress', 'cancelled'), ('error', 'cancelled'),
  -- an operator may settle a task from any other state
  ('pending', 'resolved_manually'), ('in_progress', 'resolved_manually'),
  ('error', 'resolved_manually'), ('complete', 'resolved_manually'),
  ('cancelled', 'resolved_manually');

CREATE TABLE allowed_step_transitions (
  from_state text NOT NULL REFERENCES step_states,
  to_state text NOT NULL REFERENCES step_states,
  PRIMARY KEY (from_state, to_state)
);
INSERT INTO allowed_step_transitions (from_state, to_state) VALUES
  ('pending', 'enqueued'),
  ('enqueued', 'in_progress'),
  ('in_progress', 'complete'),
  ('in_progress', 'error'),
  ('error', 'pending'),
  -- a retry-eligible failed step is ready, so the enqueuer moves it directly
  ('error', 'enqueued'),
  -- rescue: a step message lost before a worker took it goes back to pending;
  -- a step whose worker died or timed out goes back to pending (the attempt
  -- it started still counts) or is failed so retry rules apply
  ('enqueued', 'pending'),
  ('in_progress', 'pending'),
  ('pending', 'cancelled'), ('enqueued', 'cancelled'), ('in_progress', 'cancelled'),
  ('error', 'cancelled'),
  ('pending', 'resolved_manually'), ('enqueued', 'resolved_manually'),
  ('in_progress', 'resolved_manually'), ('error', 'resolved_manually'),
  ('complete', 'resolved_manually'), ('cancelled', 'resolved_manually');

-- -- tasks and steps ---------------------------------------------------------

CREATE TABLE tasks (
  task_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  named_task_uuid uuid NOT NULL REFERENCES named_tasks,
  namespace_uuid uuid NOT NULL REFERENCES namespaces,
  context jsonb NOT NULL DEFAULT '{}',
  -- Higher runs first; aging lifts waiting tasks (see tasker_claim_ready_tasks).
  priority integer NOT NULL DEFAULT 0,
  initiator text NOT NULL DEFAULT '',
  reason text NOT NULL DEFAULT '',
  request_id text,
  -- sha256 of namespace/name@version:context; a repeated request finds its task.
  identity_hash text NOT NULL UNIQUE,
  current_state text NOT NULL DEFAULT 'pending' REFERENCES task_states,
  complete boolean NOT NULL DEFAULT false,
  claimed_by text,
  claimed_at timestamptz,
  claim_timeout_seconds integer NOT NULL DEFAULT 60 CHECK (claim_timeout_seconds > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Claimable tasks are the few unfinished ones among many finished.
CREATE INDEX tasks_unfinished_idx ON tasks (priority DESC, created_at)
  WHERE current_state IN ('pending', 'in_progress');
CREATE INDEX tasks_named_task_idx ON tasks (named_task_uuid);

CREATE TABLE workflow_steps (
  workflow_step_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_uuid uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  named_step_uuid uuid NOT NULL REFERENCES named_steps,
  name text NOT NULL,
  handler text NOT NULL,
  position integer NOT NULL,
  inputs jsonb NOT NULL DEFAULT '{}',
  results jsonb,
  retryable boolean NOT NULL DEFAULT true,
  -- Retry-eligible while attempts < retry_limit (attempts counts every start).
  retry_limit integer NOT NULL DEFAULT 3 CHECK (retry_limit >= 0),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  backoff_base_ms integer NOT NULL DEFAULT 1000,
  backoff_max_ms integer NOT NULL DEFAULT 60000,
  backoff_jitter double precision NOT NULL DEFAULT 0.1,
  timeout_seconds integer NOT NULL DEFAULT 300,
  last_attempted_at timestamptz,
  backoff_until timestamptz,
  in_process boolean NOT NULL DEFAULT false,
  processed boolean NOT NULL DEFAULT false,
  processed_at timestamptz,
  current_state text NOT NULL DEFAULT 'pending' REFERENCES step_states,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_uuid, name),
  -- target of the edges' same-task foreign keys
  UNIQUE (task_uuid, workflow_step_uuid)
);
-- Readiness only ever looks at steps that could still be started.
CREATE INDEX workflow_steps_startable_idx ON workflow_steps (task_uuid)
  WHERE current_state IN ('pending', 'error') AND NOT in_process;

-- Both ends carry the task, so an edge can never join steps of two tasks.
CREATE TABLE workflow_step_edges (
  task_uuid uuid NOT NULL,
  from_step_uuid uuid NOT NULL,
  to_step_uuid uuid NOT NULL,
  PRIMARY KEY (from_step_uuid, to_step_uuid),
  CHECK (from_step_uuid <> to_step_uuid),
  FOREIGN KEY (task_uuid, from_step_uuid)
    REFERENCES workflow_steps (task_uuid, workflow_step_uuid) ON DELETE CASCADE,
  FOREIGN KEY (task_uuid, to_step_uuid)
    REFERENCES workflow_steps (task_uuid, workflow_step_uuid) ON DELETE CASCADE
);
CREATE INDEX workflow_step_edges_to_idx ON workflow_step_edges (to_step_uuid);

-- -- histories ---------------------------------------------------------------

CREATE TABLE task_transitions (
  task_transition_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_uuid uuid NOT NULL REFERENCES tasks ON DELETE CASCADE,
  from_state text REFERENCES task_states,
  to_state text NOT NULL REFERENCES task_states,
  metadata jsonb NOT NULL DEFAULT '{}',
  sort_key integer NOT NULL,
  most_recent boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (task_uuid, sort_key)
);
CREATE UNIQUE INDEX task_transitions_most_recent_idx ON task_transitions (task_uuid)
  WHERE most_recent;

CREATE TABLE workflow_step_transitions (
  workflow_step_transition_uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workflow_step_uuid uuid NOT NULL REFERENCES workflow_steps ON DELETE CASCADE,
  from_state text REFERENCES step_states,
  to_state text NOT NULL REFERENCES step_states,
  metadata jsonb NOT NULL DEFAULT '{}',
  sort_key integer NOT NULL,
  most_recent boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workflow_step_uuid, sort_key)
);
CREATE UNIQUE INDEX workflow_step_transitions_most_recent_idx
  ON workflow_step_transitions (workflow_step_uuid) WHERE most_recent;

-- -- transition functions ----------------------------------------------------

-- Moves every listed task to p_to_state, or none of them: the first row whose
-- current state does not allow the move aborts the batch naming the task and
-- both states. Returns the applied (task, from, to) rows.
CREATE FUNCTION tasker_transition_tasks(p_task_uuids uuid[], p_to_state text,
                                        p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (task_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  missing uuid;
  bad record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM task_states s WHERE s.state = p_to_state) THEN
    RAISE EXCEPTION 'unknown task state "%"', p_to_state USING ERRCODE = 'TK004';
  END IF;
  -- Lock in a fixed order so two batches over the same tasks cannot deadlock.
  PERFORM 1 FROM tasks t WHERE t.task_uuid = ANY (p_task_uuids)
    ORDER BY t.task_uuid FOR UPDATE;
  SELECT u INTO missing FROM unnest(p_task_uuids) u
    WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_uuid = u) LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'task % does not exist', missing USING ERRCODE = 'TK002';
  END IF;
  SELECT t.task_uuid AS id, t.current_state AS cur INTO bad FROM tasks t
    WHERE t.task_uuid = ANY (p_task_uuids)
      AND NOT EXISTS (SELECT 1 FROM allowed_task_transitions a
                      WHERE a.from_state = t.current_state AND a.to_state = p_to_state)
    ORDER BY t.task_uuid LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'task %: illegal transition from % to %', bad.id, bad.cur, p_to_state
      USING ERRCODE = 'TK001';
  END IF;

  UPDATE task_transitions tt SET most_recent = false
    WHERE tt.task_uuid = ANY (p_task_uuids) AND tt.most_recent;
  INSERT INTO task_transitions (task_uuid, from_state, to_state, metadata, sort_key, most_recent)
    SELECT t.task_uuid, t.current_state, p_to_state, coalesce(p_metadata, '{}'),
           (SELECT coalesce(max(h.sort_key), 0) + 1 FROM task_transitions h
             WHERE h.task_uuid = t.task_uuid),
           true
    FROM tasks t WHERE t.task_uuid = ANY (p_task_uuids);

  RETURN QUERY
  WITH prior AS (
    SELECT t.task_uuid AS id, t.current_state AS cur FROM tasks t
    WHERE t.task_uuid = ANY (p_task_uuids)
  )
  UPDATE tasks t
     SET current_state = p_to_state,
         complete = p_to_state IN ('complete', 'resolved_manually'),
         updated_at = now()
    FROM prior p
   WHERE t.task_uuid = p.id
  RETURNING t.task_uuid, p.cur, t.current_state;
END
$$;

-- As tasker_transition_tasks, for workflow steps. It also keeps the columns
-- that follow from the state: entering in_progress counts an attempt,
-- enqueued/in_progress mark the step in process, complete and
-- resolved_manually mark it processed.
CREATE FUNCTION tasker_transition_steps(p_step_uuids uuid[], p_to_state text,
                                        p_metadata jsonb DEFAULT '{}')
RETURNS TABLE (workflow_step_uuid uuid, from_state text, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  missing uuid;
  bad record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM step_states s WHERE s.state = p_to_state) THEN
    RAISE EXCEPTION 'unknown step state "%"', p_to_state USING ERRCODE = 'TK004';
  END IF;
  PERFORM 1 FROM workflow_steps s WHERE s.workflow_step_uuid = ANY (p_step_uuids)
    ORDER BY s.workflow_step_uuid FOR UPDATE;
  SELECT u INTO missing FROM unnest(p_step_uuids) u
    WHERE NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.workflow_step_uuid = u) LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'workflow step % does not exist', missing USING ERRCODE = 'TK002';
  END IF;
  SELECT s.workflow_step_uuid AS id, s.name, s.task_uuid AS task, s.current_state AS cur
    INTO bad FROM workflow_steps s
    WHERE s.workflow_step_uuid = ANY (p_step_uuids)
      AND NOT EXISTS (SELECT 1 FROM allowed_step_transitions a
                      WHERE a.from_state = s.current_state AND a.to_state = p_to_state)
    ORDER BY s.workflow_step_uuid LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'workflow step % (''%'' of task %): illegal transition from % to %',
      bad.id, bad.name, bad.task, bad.cur, p_to_state USING ERRCODE = 'TK001';
  END IF;

  UPDATE workflow_step_transitions st SET most_recent = false
    WHERE st.workflow_step_uuid = ANY (p_step_uuids) AND st.most_recent;
  INSERT INTO workflow_step_transitions
      (workflow_step_uuid, from_state, to_state, metadata, sort_key, most_recent)
    SELECT s.workflow_step_uuid, s.current_state, p_to_state, coalesce(p_metadata, '{}'),
           (SELECT coalesce(max(h.sort_key), 0) + 1 FROM workflow_step_transitions h
             WHERE h.workflow_step_uuid = s.workflow_step_uuid),
           true
    FROM workflow_steps s WHERE s.workflow_step_uuid = ANY (p_step_uuids);

  RETURN QUERY
  WITH prior AS (
    SELECT s.workflow_step_uuid AS id, s.current_state AS cur FROM workflow_steps s
    WHERE s.workflow_step_uuid = ANY (p_step_uuids)
  )
  UPDATE workflow_steps s
     SET current_state = p_to_state,
         in_process = p_to_state IN ('enqueued', 'in_progress'),
         attempts = s.attempts + CASE WHEN p_to_state = 'in_progress' THEN 1 ELSE 0 END,
         last_attempted_at = CASE WHEN p_to_state = 'in_progress' THEN now()
                                  ELSE s.last_attempted_at END,
         processed = p_to_state IN ('complete', 'resolved_manually'),
         processed_at = CASE WHEN p_to_state IN ('complete', 'resolved_manually') THEN now()
                             ELSE s.processed_at END,
         updated_at = now()
    FROM prior p
   WHERE s.workflow_step_uuid = p.id
  RETURNING s.workflow_step_uuid, p.cur, s.current_state;
END
$$;
