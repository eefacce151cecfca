-- Visibility timeouts for a batch of messages in one statement: a worker that
-- reads a batch of steps extends the later messages of the batch (they run
-- after the earlier ones) with one call instead of one per message.

-- Hides each msg_ids[i] until now + vt_seconds[i]; returns the ids that were
-- in the queue. The arrays must be of equal length.
CREATE FUNCTION tasker_mq.set_vt(queue_name text, msg_ids bigint[], vt_seconds integer[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  IF cardinality(msg_ids) IS DISTINCT FROM cardinality(vt_seconds) THEN
    RAISE EXCEPTION 'set_vt: % message ids but % visibility timeouts',
      cardinality(msg_ids), cardinality(vt_seconds) USING ERRCODE = '22023';
  END IF;
  PERFORM tasker_mq.assert_non_negative('vt_seconds', v) FROM unnest(vt_seconds) v
    WHERE v IS NULL OR v < 0;
  RETURN QUERY EXECUTE format(
    'UPDATE tasker_mq.%I q SET vt = clock_timestamp() + make_interval(secs => v.secs)
       FROM unnest($1, $2) AS v(id, secs)
      WHERE q.msg_id = v.id
     RETURNING q.msg_id', 'q_' || queue_name)
    USING msg_ids, vt_seconds;
END $$;
