-- Archive retention: archived messages (tasker_mq.a_<queue>) are deleted once
-- they are older than queues.archive_retention_days. The node calls
-- purge_archive periodically, one bounded batch per call and transaction, so
-- a large archive never holds its row locks for long.

-- Deletes up to max_rows messages of a_<queue> archived retention_days days
-- ago or earlier (0: every message archived before this transaction), oldest
-- first; returns how many. Rows another session holds (a concurrent purge or
-- redrive) are skipped, not waited for.
CREATE FUNCTION tasker_mq.purge_archive(queue_name text, retention_days integer,
                                        max_rows integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  deleted integer;
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  PERFORM tasker_mq.assert_non_negative('retention_days', retention_days);
  PERFORM tasker_mq.assert_non_negative('max_rows', max_rows);
  EXECUTE format(
    'WITH expired AS (
       SELECT msg_id FROM tasker_mq.%1$I
       WHERE archived_at <= now() - make_interval(days => $1)
       ORDER BY archived_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED)
     DELETE FROM tasker_mq.%1$I a USING expired e WHERE a.msg_id = e.msg_id',
    'a_' || queue_name)
    USING retention_days, max_rows;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $$;
