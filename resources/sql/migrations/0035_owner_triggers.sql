-- The owners of history rows and steps are kept by the engine's writers and
-- by triggers on the owners, not by foreign keys; a task's template and
-- namespace are one key.
--
-- A foreign key checks every inserted row with a query of its own (an
-- executor started and ended, a KEY SHARE lock on the owner). A single-step
-- task wrote eleven rows that were checked so: three task transitions, four
-- step transitions, the step (its task and its template step) and the task
-- (its template and its namespace); a diamond task 31, eight of them for its
-- four edges. A perf profile of a burndown put the checks (their queries and
-- the trigger machinery around them) at about a tenth of PostgreSQL's CPU
-- time. The edges' keys also needed a unique index on workflow_steps (task,
-- step) that nothing else reads, written at every step's insert and at its
-- completion.
--
-- A history row is written by the statement that inserts its owner or by a
-- statement that updates the owner (or holds it locked) in the same
-- transaction, always naming the owner by the key it has just read; a step
-- is written only by the creation statement that reads its task and its
-- template step: none can name an owner that does not exist. Edges are
-- written by the creation statement from the steps it has just created, and
-- a trigger still checks each new edge's ends (both steps exist, in the
-- edge's task) with one statement per insert. What the foreign keys also
-- did, these triggers now do:
--   * deleting a task deletes its steps and its history, deleting a step
--     its history and its edges (ON DELETE CASCADE); truncating tasks
--     truncates the steps, the edges and both histories, truncating
--     workflow_steps the edges and the step history;
--   * edges are never updated;
--   * an owner's key cannot change (NO ACTION): a task's, step's or template
--     step's uuid cannot be updated at all;
--   * a template step that a step names cannot be deleted.
--
-- tasks referenced named_tasks and namespaces with one foreign key each;
-- one key over both (named_task_uuid, namespace_uuid) checks the same rows
-- with one query, and also that the task's namespace is its template's.
-- Deleting a template that tasks use is still refused (by reading the tasks
-- table, whose index by template is dropped: see below).

ALTER TABLE task_transitions DROP CONSTRAINT task_transitions_task_uuid_fkey;
ALTER TABLE workflow_step_transitions
  DROP CONSTRAINT workflow_step_transitions_workflow_step_uuid_fkey;
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_task_uuid_fkey;
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_named_step_uuid_fkey;
ALTER TABLE workflow_step_edges
  DROP CONSTRAINT workflow_step_edges_task_uuid_from_step_uuid_fkey;
ALTER TABLE workflow_step_edges
  DROP CONSTRAINT workflow_step_edges_task_uuid_to_step_uuid_fkey;
ALTER TABLE workflow_steps DROP CONSTRAINT workflow_steps_task_uuid_workflow_step_uuid_key;
-- The edges by their first end (the primary key leads with it) and by their
-- second (workflow_step_edges_to_idx) serve the deletes below.

CREATE FUNCTION tasker_delete_task_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- The steps' own trigger takes their history; their edges go with them.
  DELETE FROM workflow_steps s USING deleted_tasks d WHERE s.task_uuid = d.task_uuid;
  DELETE FROM task_transitions tt USING deleted_tasks d WHERE tt.task_uuid = d.task_uuid;
  RETURN NULL;
END
$$;

CREATE FUNCTION tasker_delete_step_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM workflow_step_edges e USING deleted_steps d
   WHERE e.from_step_uuid = d.workflow_step_uuid;
  DELETE FROM workflow_step_edges e USING deleted_steps d
   WHERE e.to_step_uuid = d.workflow_step_uuid;
  DELETE FROM workflow_step_transitions st USING deleted_steps d
   WHERE st.workflow_step_uuid = d.workflow_step_uuid;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_delete_owned AFTER DELETE ON tasks
  REFERENCING OLD TABLE AS deleted_tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_delete_task_rows();
CREATE TRIGGER workflow_steps_delete_owned AFTER DELETE ON workflow_steps
  REFERENCING OLD TABLE AS deleted_steps
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_delete_step_rows();

-- Both ends of a new edge are steps of the edge's task.
CREATE FUNCTION tasker_check_new_edges() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT e.task_uuid, e.from_step_uuid, e.to_step_uuid INTO bad
    FROM new_edges e
   WHERE NOT EXISTS (SELECT 1 FROM workflow_steps s
                      WHERE s.workflow_step_uuid = e.from_step_uuid
                        AND s.task_uuid = e.task_uuid)
      OR NOT EXISTS (SELECT 1 FROM workflow_steps s
                      WHERE s.workflow_step_uuid = e.to_step_uuid
                        AND s.task_uuid = e.task_uuid)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'edge % -> % of task %: both ends must be steps of the task',
      bad.from_step_uuid, bad.to_step_uuid, bad.task_uuid
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER workflow_step_edges_ends AFTER INSERT ON workflow_step_edges
  REFERENCING NEW TABLE AS new_edges
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_check_new_edges();

CREATE FUNCTION tasker_refuse_edge_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'edges cannot be updated: delete the steps instead'
    USING ERRCODE = 'foreign_key_violation';
END
$$;

CREATE TRIGGER workflow_step_edges_fixed BEFORE UPDATE ON workflow_step_edges
  FOR EACH ROW EXECUTE FUNCTION tasker_refuse_edge_update();

CREATE FUNCTION tasker_truncate_owned() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'tasks' THEN
    TRUNCATE workflow_steps; -- whose trigger takes the edges and the step history
    TRUNCATE task_transitions;
  ELSE
    TRUNCATE workflow_step_edges, workflow_step_transitions;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_truncate_owned AFTER TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_truncate_owned();
CREATE TRIGGER workflow_steps_truncate_owned AFTER TRUNCATE ON workflow_steps
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_truncate_owned();

-- Fires only for an UPDATE that names the key column, which no writer does.
CREATE FUNCTION tasker_refuse_key_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the key of % cannot change (its history names it)', TG_TABLE_NAME
    USING ERRCODE = 'foreign_key_violation';
END
$$;

CREATE TRIGGER tasks_key_fixed BEFORE UPDATE OF task_uuid ON tasks
  FOR EACH ROW WHEN (OLD.task_uuid IS DISTINCT FROM NEW.task_uuid)
  EXECUTE FUNCTION tasker_refuse_key_change();
CREATE TRIGGER workflow_steps_key_fixed BEFORE UPDATE OF workflow_step_uuid ON workflow_steps
  FOR EACH ROW WHEN (OLD.workflow_step_uuid IS DISTINCT FROM NEW.workflow_step_uuid)
  EXECUTE FUNCTION tasker_refuse_key_change();
CREATE TRIGGER named_steps_key_fixed BEFORE UPDATE OF named_step_uuid ON named_steps
  FOR EACH ROW WHEN (OLD.named_step_uuid IS DISTINCT FROM NEW.named_step_uuid)
  EXECUTE FUNCTION tasker_refuse_key_change();

-- A template step that steps name stays.
CREATE FUNCTION tasker_refuse_named_step_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  named text;
BEGIN
  SELECT d.name INTO named FROM deleted_named_steps d
   WHERE EXISTS (SELECT 1 FROM workflow_steps s WHERE s.named_step_uuid = d.named_step_uuid)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'template step "%" cannot be deleted: steps of tasks name it', named
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER named_steps_delete_referenced AFTER DELETE ON named_steps
  REFERENCING OLD TABLE AS deleted_named_steps
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_refuse_named_step_delete();

-- A task's template and namespace: one key.
ALTER TABLE named_tasks ADD CONSTRAINT named_tasks_uuid_namespace_key
  UNIQUE (named_task_uuid, namespace_uuid);
ALTER TABLE tasks DROP CONSTRAINT tasks_named_task_uuid_fkey;
ALTER TABLE tasks DROP CONSTRAINT tasks_namespace_uuid_fkey;
ALTER TABLE tasks ADD CONSTRAINT tasks_named_task_namespace_fkey
  FOREIGN KEY (named_task_uuid, namespace_uuid)
  REFERENCES named_tasks (named_task_uuid, namespace_uuid);
-- The index of tasks by template served only that key's checks when a
-- template is deleted (no query reads tasks by template, and Tasker never
-- deletes one); every task wrote an entry to it.
DROP INDEX tasks_named_task_idx;
