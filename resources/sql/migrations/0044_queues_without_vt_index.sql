-- A queue table has no index on its visibility time.
--
-- Every read of a queue (tasker_mq.read, pop, the node's prepared reads, the
-- worker's claim) picks `WHERE vt <= clock_timestamp() ORDER BY msg_id LIMIT n`.
-- clock_timestamp() is volatile, so PostgreSQL cannot use it in an index
-- condition: every one of those reads walks the primary key in msg_id order
-- and tests vt on each row, and the index on vt was never read. It was still
-- written: one index entry for every message sent (three per single-step
-- task), and a change of a message's visibility time (a read that keeps the
-- message, set_vt) could not be a heap-only update while vt was indexed. The
-- only other statement naming vt, tasker_mq.metrics, counts the whole table.
--
-- create_queue no longer makes the index, and the existing queues' indexes
-- are dropped (a brief exclusive lock on each queue table).

DO $migration$
DECLARE
  def text := pg_get_functiondef('tasker_mq.create_queue(text)'::regprocedure);
  index_statement text := $old$  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON tasker_mq.%I (vt)',
                 'q_' || queue_name || '_vt_idx', 'q_' || queue_name);
$old$;
  q text;
BEGIN
  IF position(index_statement IN def) = 0 THEN
    RAISE EXCEPTION '0044: tasker_mq.create_queue does not hold the statement this migration removes';
  END IF;
  EXECUTE replace(def, index_statement, '');
  FOR q IN SELECT m.queue_name FROM tasker_mq.meta m ORDER BY m.queue_name LOOP
    EXECUTE format('DROP INDEX IF EXISTS tasker_mq.%I', 'q_' || q || '_vt_idx');
  END LOOP;
END
$migration$;
