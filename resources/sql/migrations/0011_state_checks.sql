-- State columns checked inline instead of by foreign keys.
--
-- Every row a transition writes (the task or step row and its history row)
-- carried foreign keys from its state columns to task_states / step_states.
-- PostgreSQL checks a foreign key with one query per row that takes a
-- KEY SHARE lock on the referenced row, so every transition of every worker
-- locked the same few rows of those tables: about half the time of a
-- transition batch went to these checks, and concurrent batches turned the
-- shared row locks into multixacts. The state sets are fixed by the state
-- machines (0001_core.sql; the transition functions reject an unknown state
-- before writing), so a CHECK constraint holds the same rule at no cost.
-- task_states and step_states stay as the catalogue the allowed-transition
-- tables reference.
--
-- NOT VALID then VALIDATE: on an existing installation the scan of the
-- history tables runs without blocking writers.

ALTER TABLE tasks DROP CONSTRAINT tasks_current_state_fkey;
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_current_state_fkey;
ALTER TABLE task_transitions DROP CONSTRAINT task_transitions_from_state_fkey;
ALTER TABLE task_transitions DROP CONSTRAINT task_transitions_to_state_fkey;
ALTER TABLE workflow_step_transitions DROP CONSTRAINT workflow_step_transitions_from_state_fkey;
ALTER TABLE workflow_step_transitions DROP CONSTRAINT workflow_step_transitions_to_state_fkey;

ALTER TABLE tasks ADD CONSTRAINT tasks_current_state_check CHECK (current_state IN
  ('pending', 'in_progress', 'error', 'complete', 'cancelled', 'resolved_manually')) NOT VALID;
ALTER TABLE task_transitions ADD CONSTRAINT task_transitions_state_check CHECK (
  (from_state IS NULL OR from_state IN
     ('pending', 'in_progress', 'error', 'complete', 'cancelled', 'resolved_manually'))
  AND to_state IN
     ('pending', 'in_progress', 'error', 'complete', 'cancelled', 'resolved_manually')) NOT VALID;
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_current_state_check CHECK (current_state IN
  ('pending', 'enqueued', 'in_progress', 'error', 'complete', 'cancelled', 'resolved_manually'))
  NOT VALID;
ALTER TABLE workflow_step_transitions ADD CONSTRAINT workflow_step_transitions_state_check CHECK (
  (from_state IS NULL OR from_state IN
     ('pending', 'enqueued', 'in_progress', 'error', 'complete', 'cancelled', 'resolved_manually'))
  AND to_state IN
     ('pending', 'enqueued', 'in_progress', 'error', 'complete', 'cancelled', 'resolved_manually'))
  NOT VALID;

ALTER TABLE tasks VALIDATE CONSTRAINT tasks_current_state_check;
ALTER TABLE task_transitions VALIDATE CONSTRAINT task_transitions_state_check;
ALTER TABLE workflow_steps VALIDATE CONSTRAINT workflow_steps_current_state_check;
ALTER TABLE workflow_step_transitions VALIDATE CONSTRAINT workflow_step_transitions_state_check;

-- The catalogue and the checks must agree: a state added to one without the
-- other is caught when this migration runs.
DO $$
BEGIN
  IF (SELECT array_agg(state ORDER BY state) FROM task_states)
     IS DISTINCT FROM ARRAY['cancelled', 'complete', 'error', 'in_progress', 'pending',
                            'resolved_manually'] THEN
    RAISE EXCEPTION 'task_states differs from tasks_current_state_check';
  END IF;
  IF (SELECT array_agg(state ORDER BY state) FROM step_states)
     IS DISTINCT FROM ARRAY['cancelled', 'complete', 'enqueued', 'error', 'in_progress', 'pending',
                            'resolved_manually'] THEN
    RAISE EXCEPTION 'step_states differs from workflow_steps_current_state_check';
  END IF;
END $$;
