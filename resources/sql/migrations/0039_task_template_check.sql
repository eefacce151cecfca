-- A new task's template is checked once per statement that inserts tasks,
-- not once per task.
--
-- tasks_named_task_namespace_fkey (0035) checked every inserted task with a
-- query of its own and a KEY SHARE lock on its template's row: a hundred
-- queries for a batch of a hundred requests, which name one template or a
-- few. In one session (tools/bench/store_path.sql) the key was about 16 us
-- of the database's 200 us per single-step task.
--
-- A trigger per insert statement does what the key did, for the whole
-- statement at once: it locks the templates its tasks name KEY SHARE, as the
-- key did (so none can be deleted, nor its key changed, until the inserting
-- transaction ends), then refuses the statement when any task names a
-- template and namespace that are not a template's. Triggers on the other
-- side keep the rest: a task's template and namespace cannot change, and a
-- template that tasks name cannot be deleted nor get another key. The check
-- is exact for statements at READ COMMITTED, the default and what Tasker
-- runs (Tasker itself never deletes a template).

ALTER TABLE tasks DROP CONSTRAINT tasks_named_task_namespace_fkey;

CREATE FUNCTION tasker_check_new_task_templates() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  PERFORM 1 FROM named_tasks nt
   WHERE (nt.named_task_uuid, nt.namespace_uuid) IN
         (SELECT n.named_task_uuid, n.namespace_uuid FROM new_tasks n)
   ORDER BY nt.named_task_uuid
   FOR KEY SHARE OF nt;
  SELECT n.task_uuid, n.named_task_uuid, n.namespace_uuid INTO bad FROM new_tasks n
   WHERE NOT EXISTS (SELECT 1 FROM named_tasks nt
                      WHERE nt.named_task_uuid = n.named_task_uuid
                        AND nt.namespace_uuid = n.namespace_uuid)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'task %: no task template % in namespace %', bad.task_uuid,
      bad.named_task_uuid, bad.namespace_uuid
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_template_exists AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS new_tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_check_new_task_templates();

CREATE FUNCTION tasker_refuse_task_template_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'task %: its template and namespace cannot change', OLD.task_uuid
    USING ERRCODE = 'foreign_key_violation';
END
$$;

CREATE TRIGGER tasks_template_fixed BEFORE UPDATE OF named_task_uuid, namespace_uuid ON tasks
  FOR EACH ROW WHEN (OLD.named_task_uuid IS DISTINCT FROM NEW.named_task_uuid
                     OR OLD.namespace_uuid IS DISTINCT FROM NEW.namespace_uuid)
  EXECUTE FUNCTION tasker_refuse_task_template_change();

-- A template that tasks name keeps its row and its key. Both read tasks
-- without an index by template, as the key's own checks did (0035 dropped
-- it); templates are deleted or re-keyed only by hand.
CREATE FUNCTION tasker_refuse_used_template_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  used record;
BEGIN
  SELECT o.name, o.version INTO used FROM old_templates o
   WHERE EXISTS (SELECT 1 FROM tasks t
                  WHERE t.named_task_uuid = o.named_task_uuid
                    AND t.namespace_uuid = o.namespace_uuid)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'task template % version % cannot be deleted: tasks use it', used.name,
      used.version USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER named_tasks_delete_used AFTER DELETE ON named_tasks
  REFERENCING OLD TABLE AS old_templates
  FOR EACH STATEMENT EXECUTE FUNCTION tasker_refuse_used_template_delete();

CREATE FUNCTION tasker_refuse_used_template_rekey() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM tasks t
              WHERE t.named_task_uuid = OLD.named_task_uuid
                AND t.namespace_uuid = OLD.namespace_uuid) THEN
    RAISE EXCEPTION 'task template % version % cannot get another key or namespace: tasks use it',
      OLD.name, OLD.version USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER named_tasks_key_used BEFORE UPDATE OF named_task_uuid, namespace_uuid
  ON named_tasks
  FOR EACH ROW WHEN (OLD.named_task_uuid IS DISTINCT FROM NEW.named_task_uuid
                     OR OLD.namespace_uuid IS DISTINCT FROM NEW.namespace_uuid)
  EXECUTE FUNCTION tasker_refuse_used_template_rekey();
