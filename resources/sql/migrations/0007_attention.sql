-- Attention: which unfinished tasks may need the orchestrator, kept on the
-- task row so claims and finalization read an index instead of scanning
-- every unfinished task, and the step-result path can advance a task in the
-- same transaction that applies its results.
--
-- tasks.needs_attention is true while a task may have a startable step or
-- has nothing in flight (so it may be finished or blocked). It is
--   * true for a new task (column default),
--   * set true by a trigger whenever a step of the task leaves flight or
--     becomes startable (a step moves to pending, error, complete, cancelled
--     or resolved_manually),
--   * recomputed by tasker_settle_attention, which the enqueuer and the
--     result processor call on the tasks they hold locked, after enqueueing:
--     true when a step is startable (ready or backing off) or no step is in
--     flight, false otherwise.
-- A task in flight (every startable step enqueued or running) is therefore
-- false and costs nothing to the claim or finalization scans; the trigger
-- brings it back the moment one of its steps returns. The flag is a hint for
-- the scans, never a decision: claims still check readiness and finalization
-- still checks the execution context.

ALTER TABLE tasks ADD COLUMN needs_attention boolean NOT NULL DEFAULT true;

-- Claim order is priority then age (see tasker_claim_ready_tasks).
CREATE INDEX tasks_claimable_idx ON tasks (priority DESC, created_at, task_uuid)
  WHERE needs_attention AND claimed_by IS NULL AND current_state IN ('pending', 'in_progress');
-- Finalization candidates, oldest change first.
CREATE INDEX tasks_attention_idx ON tasks (updated_at, task_uuid)
  WHERE needs_attention AND current_state = 'in_progress';

-- -- the trigger -------------------------------------------------------------

CREATE FUNCTION tasker_steps_need_attention() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
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

CREATE TRIGGER workflow_steps_need_attention AFTER UPDATE ON workflow_steps
  REFERENCING NEW TABLE AS changed_steps
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_steps_need_attention();

-- -- settling ----------------------------------------------------------------

-- Recomputes needs_attention for the listed tasks (the caller holds their
-- rows locked and has just enqueued what was ready).
CREATE FUNCTION tasker_settle_attention(p_task_uuids uuid[])
RETURNS void
LANGUAGE sql AS $$
  UPDATE tasks t SET needs_attention = v.attention
    FROM (SELECT x.task_uuid,
                 EXISTS (SELECT 1 FROM startable_workflow_steps r WHERE r.task_uuid = x.task_uuid)
                 OR NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.task_uuid = x.task_uuid
                                  AND s.current_state IN ('enqueued', 'in_progress'))
                   AS attention
          FROM tasks x WHERE x.task_uuid = ANY (p_task_uuids)) v
   WHERE t.task_uuid = v.task_uuid AND t.needs_attention IS DISTINCT FROM v.attention
$$;

-- -- advancing on results ----------------------------------------------------

-- Locks the tasks of a result batch (task uuids as text; anything that is not
-- a uuid is ignored, the batch itself reports it) in a fixed order before the
-- batch locks any step, so result batches, enqueuers and claimers all take
-- task rows before step rows and cannot deadlock each other.
CREATE FUNCTION tasker_lock_result_tasks(p_task_uuids text[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM tasks t
    WHERE t.task_uuid = ANY (ARRAY(
      SELECT u::uuid FROM unnest(p_task_uuids) u
      WHERE u ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'))
    ORDER BY t.task_uuid FOR UPDATE;
END
$$;

-- Locks the listed unfinished tasks that no other node holds a live claim on,
-- skipping rows another transaction holds (an enqueuer or another result
-- batch is advancing them; the claim path picks up what it leaves).
CREATE FUNCTION tasker_lock_tasks_for_advance(p_task_uuids uuid[], p_node_id text)
RETURNS TABLE (task_uuid uuid, namespace_name text, task_name text)
LANGUAGE sql AS $$
  WITH locked AS (
    SELECT t.task_uuid, t.namespace_uuid, t.named_task_uuid FROM tasks t
    WHERE t.task_uuid = ANY (p_task_uuids) AND t.current_state IN ('pending', 'in_progress')
      AND (t.claimed_by IS NULL OR t.claimed_by = p_node_id
           OR t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now())
    ORDER BY t.task_uuid
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT l.task_uuid, n.name, nt.name FROM locked l
  JOIN namespaces n ON n.namespace_uuid = l.namespace_uuid
  JOIN named_tasks nt ON nt.named_task_uuid = l.named_task_uuid
$$;

-- -- finalization ------------------------------------------------------------

-- Finalizes those of the listed in-progress tasks that nothing can advance
-- any more (see tasker_finalize_tasks); the caller holds their rows locked or
-- accepts waiting for them.
CREATE FUNCTION tasker_finalize_given_tasks(p_task_uuids uuid[])
RETURNS TABLE (task_uuid uuid, to_state text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  done uuid[];
  blocked uuid[];
BEGIN
  SELECT coalesce(array_agg(x.task_uuid) FILTER (WHERE x.status = 'all_complete'), '{}'),
         coalesce(array_agg(x.task_uuid) FILTER (WHERE x.status = 'blocked_by_failures'), '{}')
    INTO done, blocked
    FROM tasker_task_execution_contexts(p_task_uuids) x
   WHERE x.task_state = 'in_progress' AND x.enqueued_steps + x.in_progress_steps = 0
     AND x.ready_steps + x.backing_off_steps = 0;

  RETURN QUERY SELECT r.task_uuid, r.to_state
    FROM tasker_transition_tasks(done, 'complete', '{"event": "finalized"}') r
    WHERE cardinality(done) > 0;
  RETURN QUERY SELECT r.task_uuid, r.to_state
    FROM tasker_transition_tasks(blocked, 'error',
                                 '{"event": "finalized", "reason": "blocked_by_failures"}') r
    WHERE cardinality(blocked) > 0;
END
$$;

-- Finalizes up to p_limit in-progress tasks that nothing can advance any
-- more: no step in flight and no step startable. All steps complete →
-- complete; otherwise (failed or cancelled steps block the rest) → error.
-- Only tasks needing attention are candidates (a task in flight is not).
CREATE OR REPLACE FUNCTION tasker_finalize_tasks(p_limit integer)
RETURNS TABLE (task_uuid uuid, to_state text)
LANGUAGE sql AS $$
  WITH candidates AS (
    SELECT t.task_uuid FROM tasks t
    WHERE t.needs_attention AND t.current_state = 'in_progress'
      AND NOT EXISTS (SELECT 1 FROM workflow_steps s WHERE s.task_uuid = t.task_uuid
                        AND s.current_state IN ('enqueued', 'in_progress'))
      AND NOT EXISTS (SELECT 1 FROM startable_workflow_steps r WHERE r.task_uuid = t.task_uuid)
    ORDER BY t.updated_at, t.task_uuid
    LIMIT greatest(p_limit, 0)
    FOR UPDATE OF t SKIP LOCKED
  )
  SELECT f.task_uuid, f.to_state
  FROM tasker_finalize_given_tasks((SELECT coalesce(array_agg(c.task_uuid), '{}')
                                    FROM candidates c)) f
$$;

-- -- claims ------------------------------------------------------------------

-- Claims up to p_limit unfinished tasks that have a ready step and no live
-- claim, highest effective priority first: priority + seconds waiting /
-- p_aging_seconds, so a long-waiting low-priority task overtakes newer
-- high-priority ones. Rows another transaction holds are skipped, so
-- concurrent claimers never block each other or claim the same task.
--
-- Within one priority, effective priority orders by age alone, so the best
-- p_limit tasks overall are among the oldest p_limit ready tasks of each
-- priority present: those are read through tasks_claimable_idx (one short
-- index walk per distinct priority, found by a skip scan), together with
-- tasks whose claim lapsed, and only they are ranked.
CREATE OR REPLACE FUNCTION tasker_claim_ready_tasks(p_node_id text, p_limit integer,
                                                    p_claim_timeout_seconds integer,
                                                    p_aging_seconds double precision DEFAULT 60)
RETURNS TABLE (task_uuid uuid, namespace_name text, priority integer,
               effective_priority double precision, claimed_at timestamptz)
LANGUAGE sql AS $$
  WITH RECURSIVE priorities AS (
    (SELECT t.priority FROM tasks t
     WHERE t.needs_attention AND t.claimed_by IS NULL
       AND t.current_state IN ('pending', 'in_progress')
     ORDER BY t.priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT t.priority FROM tasks t
            WHERE t.needs_attention AND t.claimed_by IS NULL
              AND t.current_state IN ('pending', 'in_progress') AND t.priority < p.priority
            ORDER BY t.priority DESC LIMIT 1)
    FROM priorities p WHERE p.priority IS NOT NULL
  ), pool AS (
    SELECT c.task_uuid FROM priorities p
    CROSS JOIN LATERAL (
      SELECT t.task_uuid FROM tasks t
      WHERE t.priority = p.priority AND t.needs_attention AND t.claimed_by IS NULL
        AND t.current_state IN ('pending', 'in_progress')
        AND EXISTS (SELECT 1 FROM startable_workflow_steps r
                    WHERE r.task_uuid = t.task_uuid AND r.ready)
      ORDER BY t.created_at, t.task_uuid
      LIMIT greatest(p_limit, 0)
    ) c
    WHERE p.priority IS NOT NULL
    UNION
    SELECT t.task_uuid FROM tasks t
    WHERE t.claimed_by IS NOT NULL AND t.current_state IN ('pending', 'in_progress')
      AND t.claimed_at + make_interval(secs => t.claim_timeout_seconds) < now()
      AND EXISTS (SELECT 1 FROM startable_workflow_steps r
                  WHERE r.task_uuid = t.task_uuid AND r.ready)
  ), candidates AS (
    SELECT t.task_uuid,
           t.priority + extract(epoch FROM now() - t.created_at)::double precision
                        / greatest(p_aging_seconds, 0.001) AS effective_priority
    FROM tasks t
    WHERE t.task_uuid IN (SELECT pool.task_uuid FROM pool)
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
  RETURNING t.task_uuid, n.name, t.priority, c.effective_priority, t.claimed_at
$$;
