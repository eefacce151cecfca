-- A task's completion rewrites its row in place.
--
-- Finalization moves a task from in_progress to complete (current_state,
-- complete, updated_at). Two indexes on tasks named those columns:
-- tasks_claimable_idx (current_state in its predicate) and
-- tasks_attention_idx (keyed by updated_at, current_state in its
-- predicate). So every completion wrote the new row version to another page
-- and added an entry to each of the table's full indexes (primary key,
-- identity hash, template, request id), although the completed task left
-- neither partial index (its needs_attention is false, or the state takes it
-- out).
--
-- The predicates are now stored generated columns, computed by PostgreSQL
-- from the same expressions on every write, so the indexes select exactly
-- the rows they did:
--
-- * attention_unfinished = needs_attention AND the task is pending or in
--   progress (tasks_claimable_idx: claims, and the request processor's probe
--   for a ready task on the claim path);
-- * attention_running = needs_attention AND the task is in progress
--   (tasks_attention_idx: the finalizer's sweep).
--
-- A completion that leaves needs_attention false changes neither (false
-- before, false after), and PostgreSQL compares values, not the columns an
-- update names; a completion of a task flagged for attention still changes
-- them and leaves the indexes as before.
--
-- tasks_attention_idx is keyed by the task's key instead of updated_at, so
-- the finalizer's sweep takes the oldest tasks first (keys are time-ordered,
-- 0024) where it took the least recently changed: every completion changed
-- updated_at, the key it had.
--
-- fillfactor 50: a page keeps room for a new version of each task inserted
-- on it. Adding the stored columns rewrites the table (an exclusive lock for
-- the length of the rewrite; see docs/operations.md).
--
-- Same signatures and results; the functions restated here get their
-- settings again (CREATE OR REPLACE resets them).

ALTER TABLE tasks SET (fillfactor = 50);

ALTER TABLE tasks
  ADD COLUMN attention_unfinished boolean NOT NULL
    GENERATED ALWAYS AS (needs_attention AND current_state IN ('pending', 'in_progress')) STORED,
  ADD COLUMN attention_running boolean NOT NULL
    GENERATED ALWAYS AS (needs_attention AND current_state = 'in_progress') STORED;

DROP INDEX tasks_claimable_idx;
DROP INDEX tasks_attention_idx;
-- Claim order is priority then age (see tasker_claim_ready_tasks).
CREATE INDEX tasks_claimable_idx ON tasks (priority DESC, created_at, task_uuid)
  WHERE attention_unfinished AND claimed_by IS NULL;
-- Finalization candidates, oldest task first.
CREATE INDEX tasks_attention_idx ON tasks (task_uuid) WHERE attention_running;

CREATE OR REPLACE FUNCTION tasker_claim_ready_tasks(p_node_id text, p_limit integer,
                                                    p_claim_timeout_seconds integer,
                                                    p_aging_seconds double precision DEFAULT 60)
RETURNS TABLE (task_uuid uuid, namespace_name text, priority integer,
               effective_priority double precision, claimed_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH RECURSIVE lapsed AS MATERIALIZED (
    -- Claims whose holder let them lapse, read first through
    -- tasks_claimed_by_idx: left to the planner, it may start from every
    -- startable step instead and probe each one's task.
    SELECT t.task_uuid FROM tasks t
    WHERE t.claimed_by IS NOT NULL AND t.current_state IN ('pending', 'in_progress')
      AND t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now()
  ), priorities AS (
    (SELECT t.priority FROM tasks t
     WHERE t.attention_unfinished AND t.claimed_by IS NULL
     ORDER BY t.priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT t.priority FROM tasks t
            WHERE t.attention_unfinished AND t.claimed_by IS NULL AND t.priority < p.priority
            ORDER BY t.priority DESC LIMIT 1)
    FROM priorities p WHERE p.priority IS NOT NULL
  ), pool AS (
    SELECT c.task_uuid FROM priorities p
    CROSS JOIN LATERAL (
      SELECT t.task_uuid FROM tasks t
      CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                          WHERE r.task_uuid = t.task_uuid AND r.ready LIMIT 1) ok
      WHERE t.priority = p.priority AND t.attention_unfinished AND t.claimed_by IS NULL
      ORDER BY t.created_at, t.task_uuid
      LIMIT greatest(p_limit, 0)
    ) c
    WHERE p.priority IS NOT NULL
    UNION
    SELECT l.task_uuid FROM lapsed l
    CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                        WHERE r.task_uuid = l.task_uuid AND r.ready LIMIT 1) ok
  ), candidates AS (
    SELECT t.task_uuid,
           t.priority + extract(epoch FROM now() - t.created_at)::double precision
                        / greatest(p_aging_seconds, 0.001) AS effective_priority
    FROM tasks t
    WHERE t.task_uuid = ANY (ARRAY(SELECT pool.task_uuid FROM pool))
      AND t.current_state IN ('pending', 'in_progress')
      AND (t.claimed_by IS NULL
           OR t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now())
    ORDER BY effective_priority DESC, t.created_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  UPDATE tasks t
     SET claimed_by = p_node_id, claimed_at = now(),
         claim_timeout_seconds = p_claim_timeout_seconds, updated_at = now()
    FROM candidates c, namespaces n
   WHERE t.task_uuid = c.task_uuid AND n.namespace_uuid = t.namespace_uuid
  RETURNING t.task_uuid, n.name, t.priority, c.effective_priority, t.claimed_at;
END
$$;

ALTER FUNCTION tasker_claim_ready_tasks SET enable_seqscan = off;

CREATE OR REPLACE FUNCTION tasker_claim_path_has_ready_task(p_except uuid[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM tasks t
    CROSS JOIN LATERAL (SELECT 1 FROM startable_workflow_steps r
                        WHERE r.task_uuid = t.task_uuid AND r.ready LIMIT 1) ok
    WHERE t.attention_unfinished AND t.claimed_by IS NULL
      AND t.task_uuid <> ALL (p_except))
$$;

CREATE OR REPLACE FUNCTION tasker_finalize_tasks(p_limit integer)
RETURNS TABLE (task_uuid uuid, to_state text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH candidates AS (
    SELECT t.task_uuid FROM tasks t
    LEFT JOIN LATERAL (SELECT true AS found FROM workflow_steps s
                       WHERE s.task_uuid = t.task_uuid AND s.in_process LIMIT 1) fl ON true
    LEFT JOIN LATERAL (SELECT true AS found FROM startable_workflow_steps r
                       WHERE r.task_uuid = t.task_uuid LIMIT 1) st ON true
    WHERE t.attention_running AND fl.found IS NULL AND st.found IS NULL
    ORDER BY t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT f.task_uuid, f.to_state
  FROM tasker_finalize_given_tasks((SELECT coalesce(array_agg(c.task_uuid), '{}')
                                    FROM candidates c)) f;
END
$$;
