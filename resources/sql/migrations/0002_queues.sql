-- 0002_queues.sql — message queues in the style of pgmq, written for Tasker.
--
-- Everything lives in schema tasker_mq:
--   meta               one row per queue (queue_name, created_at)
--   q_<queue>          the live messages of one queue
--   a_<queue>          the archive (dead letters) of one queue, each row with its reason
--
-- Delivery is at-least-once: read() hides the messages it returns for vt_seconds
-- (their visibility timeout) and bumps read_ct; a consumer that does not delete
-- or archive them in time sees them again. Concurrent readers never receive the
-- same visible message twice because read() locks with FOR UPDATE SKIP LOCKED.
--
-- Wake-up: every call that makes messages available (send, send_batch, redrive)
-- issues ONE pg_notify on channel 'tasker_mq_<queue>' with the queue name as
-- payload, delivered when the sending transaction commits. Consumers LISTEN on
-- it to sleep until work arrives instead of polling.
--
-- A consumer in any language needs only these functions:
--   LISTEN tasker_mq_<queue>;                         -- once, on its own connection
--   SELECT * FROM tasker_mq.read('<queue>', 30, 10);  -- hide 10 messages for 30 s
--   ... process each message ...
--   SELECT * FROM tasker_mq.delete('<queue>', ARRAY[<msg_id>, ...]);         -- done
--   SELECT * FROM tasker_mq.archive('<queue>', ARRAY[<msg_id>], '<reason>');  -- give up
--   SELECT * FROM tasker_mq.set_vt('<queue>', <msg_id>, 60);  -- need more time
-- and when read returns nothing, waits for a notification or its poll interval.
-- Producers call tasker_mq.send / tasker_mq.send_batch inside their own
-- transaction: the message becomes readable (and the NOTIFY fires) at commit.
-- Use READ COMMITTED: under REPEATABLE READ, contended reads fail instead of skipping.
--
-- Queue names become SQL identifiers, so every function validates them against
-- ^[a-z][a-z0-9_]{0,47}$ itself (the C++ client also checks before any SQL runs)
-- and only ever splices them into SQL through format('%I'); values travel as
-- EXECUTE ... USING parameters.

CREATE SCHEMA IF NOT EXISTS tasker_mq;

CREATE TABLE tasker_mq.meta (
  queue_name text PRIMARY KEY CHECK (queue_name ~ '^[a-z][a-z0-9_]{0,47}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The row shape read() and set_vt() return: the columns of q_<queue>.
CREATE TYPE tasker_mq.message_record AS (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamptz,
  vt timestamptz,
  message jsonb,
  headers jsonb
);

-- The row shape list_archived() returns: the columns of a_<queue>.
CREATE TYPE tasker_mq.archived_record AS (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamptz,
  vt timestamptz,
  message jsonb,
  headers jsonb,
  archived_at timestamptz,
  reason text
);

-- Ages are NULL for an empty queue. total_messages_sent is read from the msg_id
-- sequence, so it counts ids handed out: a rolled-back send still counts, and
-- after a server crash the count may jump ahead (sequences log ahead).
CREATE TYPE tasker_mq.metrics_record AS (
  queue_name text,
  queue_length bigint,
  visible_length bigint,
  oldest_msg_age_seconds double precision,
  newest_msg_age_seconds double precision,
  total_messages_sent bigint,
  scrape_time timestamptz
);

-- -- helpers ---------------------------------------------------------------

-- Returns queue_name when it is a valid queue name; raises otherwise.
CREATE FUNCTION tasker_mq.validate_queue_name(queue_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF queue_name IS NULL OR queue_name !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name %: must match ^[a-z][a-z0-9_]{0,47}$',
        coalesce(quote_literal(left(queue_name, 64))
                 || CASE WHEN length(queue_name) > 64 THEN '...' ELSE '' END, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN queue_name;
END $$;

-- Validates queue_name and raises undefined_table when the queue does not exist.
CREATE FUNCTION tasker_mq.assert_queue(queue_name text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM tasker_mq.validate_queue_name(queue_name);
  IF to_regclass(format('tasker_mq.%I', 'q_' || queue_name)) IS NULL THEN
    RAISE EXCEPTION 'queue % does not exist (create it with tasker_mq.create_queue)',
        quote_literal(queue_name)
      USING ERRCODE = 'undefined_table';
  END IF;
END $$;

-- Raises when a seconds or count argument is NULL or negative.
CREATE FUNCTION tasker_mq.assert_non_negative(what text, value integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF value IS NULL OR value < 0 THEN
    RAISE EXCEPTION '% must be a non-negative integer, got %', what, coalesce(value::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- The LISTEN/NOTIFY channel of a queue: 'tasker_mq_' || queue_name.
CREATE FUNCTION tasker_mq.notify_channel(queue_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'tasker_mq_' || tasker_mq.validate_queue_name(queue_name)
$$;

-- -- queue lifecycle -------------------------------------------------------

-- Creates q_<queue> and a_<queue>; does nothing for a queue that exists.
CREATE FUNCTION tasker_mq.create_queue(queue_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.validate_queue_name(queue_name);
  -- Two sessions creating the same queue would race on the catalog even with
  -- IF NOT EXISTS; serialize them per name.
  PERFORM pg_advisory_xact_lock(hashtext('tasker_mq.queue'), hashtext(queue_name));
  IF to_regclass(format('tasker_mq.%I', 'q_' || queue_name)) IS NOT NULL
     AND to_regclass(format('tasker_mq.%I', 'a_' || queue_name)) IS NOT NULL
     AND EXISTS (SELECT 1 FROM tasker_mq.meta m WHERE m.queue_name = create_queue.queue_name) THEN
    RETURN; -- the common case; IF NOT EXISTS below would log a notice per object
  END IF;
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS tasker_mq.%I (
       msg_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       read_ct integer NOT NULL DEFAULT 0,
       enqueued_at timestamptz NOT NULL DEFAULT now(),
       vt timestamptz NOT NULL,
       message jsonb NOT NULL,
       headers jsonb)', 'q_' || queue_name);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON tasker_mq.%I (vt)',
                 'q_' || queue_name || '_vt_idx', 'q_' || queue_name);
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS tasker_mq.%I (
       msg_id bigint PRIMARY KEY,
       read_ct integer NOT NULL,
       enqueued_at timestamptz NOT NULL,
       vt timestamptz NOT NULL,
       message jsonb NOT NULL,
       headers jsonb,
       archived_at timestamptz NOT NULL DEFAULT now(),
       reason text NOT NULL)', 'a_' || queue_name);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON tasker_mq.%I (archived_at)',
                 'a_' || queue_name || '_archived_idx', 'a_' || queue_name);
  INSERT INTO tasker_mq.meta AS m (queue_name) VALUES (create_queue.queue_name)
    ON CONFLICT ON CONSTRAINT meta_pkey DO NOTHING;
END $$;

-- Drops a queue with its messages and archive; false when it did not exist.
CREATE FUNCTION tasker_mq.drop_queue(queue_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  existed boolean;
BEGIN
  PERFORM tasker_mq.validate_queue_name(queue_name);
  PERFORM pg_advisory_xact_lock(hashtext('tasker_mq.queue'), hashtext(queue_name));
  existed := to_regclass(format('tasker_mq.%I', 'q_' || queue_name)) IS NOT NULL;
  IF existed THEN
    EXECUTE format('DROP TABLE tasker_mq.%I', 'q_' || queue_name);
  END IF;
  IF to_regclass(format('tasker_mq.%I', 'a_' || queue_name)) IS NOT NULL THEN
    EXECUTE format('DROP TABLE tasker_mq.%I', 'a_' || queue_name);
  END IF;
  DELETE FROM tasker_mq.meta m WHERE m.queue_name = drop_queue.queue_name;
  RETURN existed;
END $$;

-- Every queue, by name.
CREATE FUNCTION tasker_mq.list_queues()
RETURNS TABLE (queue_name text, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT m.queue_name, m.created_at FROM tasker_mq.meta m ORDER BY m.queue_name
$$;

-- -- producing -------------------------------------------------------------

-- Enqueues one message, visible after delay_seconds; returns its msg_id.
CREATE FUNCTION tasker_mq.send(queue_name text, message jsonb, delay_seconds integer DEFAULT 0,
                               headers jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  id bigint;
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  PERFORM tasker_mq.assert_non_negative('delay_seconds', delay_seconds);
  IF message IS NULL THEN
    RAISE EXCEPTION 'message for queue % must not be NULL', quote_literal(queue_name)
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  EXECUTE format(
    'INSERT INTO tasker_mq.%I (vt, message, headers)
     VALUES (clock_timestamp() + make_interval(secs => $1), $2, $3)
     RETURNING msg_id', 'q_' || queue_name)
    INTO id USING delay_seconds, message, headers;
  PERFORM pg_notify(tasker_mq.notify_channel(queue_name), queue_name);
  RETURN id;
END $$;

-- Enqueues many messages in one INSERT; returns their msg_ids in array order.
-- headers, when given, pairs with messages element by element.
CREATE FUNCTION tasker_mq.send_batch(queue_name text, messages jsonb[],
                                     delay_seconds integer DEFAULT 0,
                                     headers jsonb[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  PERFORM tasker_mq.assert_non_negative('delay_seconds', delay_seconds);
  IF coalesce(cardinality(messages), 0) = 0 THEN
    RETURN;
  END IF;
  IF array_position(messages, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'send_batch to queue %: message % is NULL', quote_literal(queue_name),
        array_position(messages, NULL)
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF headers IS NOT NULL AND cardinality(headers) <> cardinality(messages) THEN
    RAISE EXCEPTION 'send_batch to queue %: % headers for % messages', quote_literal(queue_name),
        cardinality(headers), cardinality(messages)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Identity values are drawn in the SELECT's order, so sorting the returned
  -- ids restores the array order even though RETURNING itself is unordered.
  RETURN QUERY EXECUTE format(
    'WITH ins AS (
       INSERT INTO tasker_mq.%I (vt, message, headers)
       SELECT clock_timestamp() + make_interval(secs => $1), m.message, m.headers
       FROM unnest($2, $3) WITH ORDINALITY AS m(message, headers, n)
       ORDER BY m.n
       RETURNING msg_id)
     SELECT msg_id FROM ins ORDER BY msg_id', 'q_' || queue_name)
    USING delay_seconds, messages, headers;
  PERFORM pg_notify(tasker_mq.notify_channel(queue_name), queue_name);
END $$;

-- -- consuming -------------------------------------------------------------

-- Takes up to qty visible messages, oldest id first, hides them for vt_seconds
-- and increments read_ct, in one statement.
CREATE FUNCTION tasker_mq.read(queue_name text, vt_seconds integer, qty integer)
RETURNS SETOF tasker_mq.message_record
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  PERFORM tasker_mq.assert_non_negative('vt_seconds', vt_seconds);
  PERFORM tasker_mq.assert_non_negative('qty', qty);
  RETURN QUERY EXECUTE format(
    'WITH picked AS (
       SELECT msg_id FROM tasker_mq.%1$I
       WHERE vt <= clock_timestamp()
       ORDER BY msg_id
       LIMIT $1
       FOR UPDATE SKIP LOCKED),
     taken AS (
       UPDATE tasker_mq.%1$I q
       SET vt = clock_timestamp() + make_interval(secs => $2), read_ct = q.read_ct + 1
       FROM picked
       WHERE q.msg_id = picked.msg_id
       RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers)
     SELECT * FROM taken ORDER BY msg_id', 'q_' || queue_name)
    USING qty, vt_seconds;
END $$;

-- Deletes messages; returns the ids that were in the queue.
CREATE FUNCTION tasker_mq.delete(queue_name text, msg_ids bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  RETURN QUERY EXECUTE format(
    'WITH gone AS (DELETE FROM tasker_mq.%I WHERE msg_id = ANY($1) RETURNING msg_id)
     SELECT msg_id FROM gone ORDER BY msg_id', 'q_' || queue_name)
    USING msg_ids;
END $$;

-- pgmq's single-message form: true when the message was in the queue.
CREATE FUNCTION tasker_mq.delete(queue_name text, msg_id bigint) RETURNS boolean
LANGUAGE sql AS $$
  SELECT EXISTS (SELECT 1 FROM tasker_mq.delete(queue_name, ARRAY[msg_id]))
$$;

-- Moves messages to a_<queue> with one reason for all; returns the ids moved.
CREATE FUNCTION tasker_mq.archive(queue_name text, msg_ids bigint[], reason text)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  RETURN QUERY SELECT * FROM tasker_mq.archive(
    queue_name, msg_ids, array_fill(reason, ARRAY[coalesce(cardinality(msg_ids), 0)]));
END $$;

-- Moves messages to a_<queue>, reasons[i] being the reason of msg_ids[i];
-- returns the ids moved. Ids not in the queue are ignored.
CREATE FUNCTION tasker_mq.archive(queue_name text, msg_ids bigint[], reasons text[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  IF coalesce(cardinality(msg_ids), 0) <> coalesce(cardinality(reasons), 0) THEN
    RAISE EXCEPTION 'archive in queue %: % reasons for % messages', quote_literal(queue_name),
        coalesce(cardinality(reasons), 0), coalesce(cardinality(msg_ids), 0)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- A dead letter without a reason cannot be triaged.
  IF array_position(reasons, NULL) IS NOT NULL OR array_position(reasons, '') IS NOT NULL THEN
    RAISE EXCEPTION 'archive in queue %: the reason of message % is empty',
        quote_literal(queue_name),
        msg_ids[coalesce(array_position(reasons, NULL), array_position(reasons, ''))]
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- ON CONFLICT only matters if an id was archived before and reused by hand:
  -- the newest archive wins rather than the move failing.
  RETURN QUERY EXECUTE format(
    'WITH wanted AS (
       SELECT DISTINCT ON (w.msg_id) w.msg_id, w.reason
       FROM unnest($1, $2) AS w(msg_id, reason)
       ORDER BY w.msg_id),
     moved AS (
       DELETE FROM tasker_mq.%1$I q USING wanted
       WHERE q.msg_id = wanted.msg_id
       RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers, wanted.reason),
     kept AS (
       INSERT INTO tasker_mq.%2$I AS a
         (msg_id, read_ct, enqueued_at, vt, message, headers, archived_at, reason)
       SELECT msg_id, read_ct, enqueued_at, vt, message, headers, clock_timestamp(), reason
       FROM moved
       ON CONFLICT (msg_id) DO UPDATE SET
         read_ct = excluded.read_ct, enqueued_at = excluded.enqueued_at, vt = excluded.vt,
         message = excluded.message, headers = excluded.headers,
         archived_at = excluded.archived_at, reason = excluded.reason
       RETURNING a.msg_id)
     SELECT msg_id FROM kept ORDER BY msg_id', 'q_' || queue_name, 'a_' || queue_name)
    USING msg_ids, reasons;
END $$;

-- Sets a message's visibility timeout to now + vt_seconds (0: visible now);
-- returns the updated message, or no row when it is not in the queue.
CREATE FUNCTION tasker_mq.set_vt(queue_name text, msg_id bigint, vt_seconds integer)
RETURNS SETOF tasker_mq.message_record
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  PERFORM tasker_mq.assert_non_negative('vt_seconds', vt_seconds);
  RETURN QUERY EXECUTE format(
    'UPDATE tasker_mq.%I SET vt = clock_timestamp() + make_interval(secs => $2)
     WHERE msg_id = $1
     RETURNING msg_id, read_ct, enqueued_at, vt, message, headers', 'q_' || queue_name)
    USING msg_id, vt_seconds;
END $$;

-- -- inspection and dead letters -------------------------------------------

-- Length, ages and total sent of one queue.
CREATE FUNCTION tasker_mq.metrics(queue_name text) RETURNS tasker_mq.metrics_record
LANGUAGE plpgsql AS $$
DECLARE
  result tasker_mq.metrics_record;
  seq text;
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  result.queue_name := queue_name;
  result.scrape_time := clock_timestamp();
  EXECUTE format(
    'SELECT count(*), count(*) FILTER (WHERE vt <= $1),
            CASE WHEN count(*) > 0
                 THEN greatest(0, extract(epoch FROM $1 - min(enqueued_at)))::double precision END,
            CASE WHEN count(*) > 0
                 THEN greatest(0, extract(epoch FROM $1 - max(enqueued_at)))::double precision END
     FROM tasker_mq.%I', 'q_' || queue_name)
    INTO result.queue_length, result.visible_length,
         result.oldest_msg_age_seconds, result.newest_msg_age_seconds
    USING result.scrape_time;
  -- From the identity sequence, not a counter row: a counter every send must
  -- update would serialize all senders on one row lock.
  seq := pg_get_serial_sequence(format('tasker_mq.%I', 'q_' || queue_name), 'msg_id');
  EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s', seq)
    INTO result.total_messages_sent;
  RETURN result;
END $$;

-- metrics() of every queue, by name; skips queues dropped while it runs.
CREATE FUNCTION tasker_mq.metrics_all() RETURNS SETOF tasker_mq.metrics_record
LANGUAGE plpgsql AS $$
DECLARE
  name text;
BEGIN
  FOR name IN SELECT m.queue_name FROM tasker_mq.meta m ORDER BY m.queue_name LOOP
    IF to_regclass(format('tasker_mq.%I', 'q_' || name)) IS NOT NULL THEN
      RETURN NEXT tasker_mq.metrics(name);
    END IF;
  END LOOP;
END $$;

-- The most recently archived messages of a queue, newest first.
CREATE FUNCTION tasker_mq.list_archived(queue_name text, max_rows integer DEFAULT 100)
RETURNS SETOF tasker_mq.archived_record
LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  PERFORM tasker_mq.assert_non_negative('max_rows', max_rows);
  RETURN QUERY EXECUTE format(
    'SELECT msg_id, read_ct, enqueued_at, vt, message, headers, archived_at, reason
     FROM tasker_mq.%I ORDER BY archived_at DESC, msg_id DESC LIMIT $1', 'a_' || queue_name)
    USING max_rows;
END $$;

-- Moves archived messages back into the queue under their own msg_id, visible
-- now, read_ct reset, enqueued_at set to now; returns the ids moved back.
CREATE FUNCTION tasker_mq.redrive(queue_name text, msg_ids bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasker_mq.assert_queue(queue_name);
  RETURN QUERY EXECUTE format(
    'WITH back AS (
       DELETE FROM tasker_mq.%2$I a
       WHERE a.msg_id = ANY($1)
         AND NOT EXISTS (SELECT 1 FROM tasker_mq.%1$I q WHERE q.msg_id = a.msg_id)
       RETURNING a.msg_id, a.message, a.headers),
     ins AS (
       INSERT INTO tasker_mq.%1$I (msg_id, read_ct, enqueued_at, vt, message, headers)
       OVERRIDING SYSTEM VALUE
       SELECT msg_id, 0, now(), clock_timestamp(), message, headers FROM back
       RETURNING msg_id)
     SELECT msg_id FROM ins ORDER BY msg_id', 'q_' || queue_name, 'a_' || queue_name)
    USING msg_ids;
  IF FOUND THEN
    PERFORM pg_notify(tasker_mq.notify_channel(queue_name), queue_name);
  END IF;
END $$;
