-- The step result processor's batch goes from the queue to the store in one
-- statement, its bodies never leaving the server.
--
-- Until now the processor consumed a batch (the bodies printed as JSON text
-- and sent to the node), parsed every body with the wire parser, printed the
-- parsed results again as one JSON array, and PostgreSQL parsed that array
-- to apply it: two round trips and the same JSON read three times. Now one
-- statement (queue_client::consume_through) consumes the batch and calls
-- tasker_apply_queued_results with its ids and bodies. When every body is
-- plain (tasker_is_plain_step_result) the batch is applied at once, as
-- tasker_apply_results_and_dispatch applies the parser's output; otherwise
-- nothing is applied and the whole batch returns to the processor, which
-- examines it with the wire parser as before: refused messages are archived
-- with the parser's reasons, the rest applied.
--
-- Plain is narrower than what the parser accepts, never wider: every plain
-- body is accepted by the parser, and means what the parser's reading of it
-- means. The results are present (null when there are none), optional
-- fields absent or of their type (not null), objects
-- hold only the fields the protocol names, and no number of the results is
-- beyond the range the parser holds (1e308). A worker of this project always
-- sends plain results.

CREATE FUNCTION tasker_is_plain_step_result(m jsonb, p_max_bytes integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  -- CASE guards every cast and operator that a wrong type would make raise:
  -- the conditions of an AND may be evaluated in any order.
  SELECT coalesce(CASE WHEN jsonb_typeof(m) IS DISTINCT FROM 'object' THEN false ELSE
    (m - '{task_uuid,step_uuid,status,results,execution_time_ms,error,retry_after_seconds,worker,attempt}'::text[])
      = '{}'::jsonb
    AND jsonb_typeof(m->'task_uuid') = 'string' AND tasker_is_uuid_text(m->>'task_uuid')
    AND jsonb_typeof(m->'step_uuid') = 'string' AND tasker_is_uuid_text(m->>'step_uuid')
    AND jsonb_typeof(m->'status') = 'string'
    AND CASE m->>'status'
          WHEN 'success' THEN NOT (m ? 'error')
          WHEN 'failed' THEN coalesce(jsonb_typeof(m->'error') = 'object', false)
          ELSE false END
    AND CASE WHEN jsonb_typeof(m->'error') = 'object' THEN
          ((m->'error') - '{message,retryable,code}'::text[]) = '{}'::jsonb
          AND jsonb_typeof(m->'error'->'message') = 'string'
          AND jsonb_typeof(m->'error'->'retryable') = 'boolean'
          AND coalesce(jsonb_typeof(m->'error'->'code'), 'string') = 'string'
        ELSE NOT (m ? 'error') END
    AND CASE WHEN jsonb_typeof(m->'execution_time_ms') = 'number'
             THEN (m->>'execution_time_ms')::numeric BETWEEN 0 AND 1e308 ELSE false END
    AND CASE WHEN jsonb_typeof(m->'retry_after_seconds') = 'number'
             THEN (m->>'retry_after_seconds')::numeric BETWEEN 0 AND 1e308
             ELSE NOT (m ? 'retry_after_seconds') END
    AND CASE WHEN jsonb_typeof(m->'worker') = 'object' THEN
          ((m->'worker') - '{id,hostname,pid}'::text[]) = '{}'::jsonb
          AND jsonb_typeof(m->'worker'->'id') = 'string'
          AND jsonb_typeof(m->'worker'->'hostname') = 'string'
          AND jsonb_typeof(m->'worker'->'pid') = 'number'
          AND m->'worker'->>'pid' ~ '^[0-9]{1,18}$'
        ELSE NOT (m ? 'worker') END
    AND CASE WHEN jsonb_typeof(m->'attempt') = 'number' AND m->>'attempt' ~ '^[0-9]{1,10}$'
             THEN (m->>'attempt')::bigint BETWEEN 1 AND 2147483647
             ELSE NOT (m ? 'attempt') END
    AND m ? 'results'
    AND CASE jsonb_typeof(m->'results')
          WHEN 'number' THEN abs((m->>'results')::numeric) < 1e308
          WHEN 'object' THEN NOT jsonb_path_exists(m->'results',
            'strict $.** ? (@.type() == "number" && (@ >= 1e308 || @ <= -1e308))')
          WHEN 'array' THEN NOT jsonb_path_exists(m->'results',
            'strict $.** ? (@.type() == "number" && (@ >= 1e308 || @ <= -1e308))')
          ELSE true END
    AND octet_length(m::text) <= p_max_bytes
  END, false)
$$;

-- One batch as consumed from the step results queue: p_ids and p_bodies are
-- the messages' ids and bodies, in id order (NULL for an empty batch). Rows:
--   'taken'     sent = the number of messages consumed (first, always);
--   'unchecked' one per message when some body is not plain: nothing was
--               applied, the caller examines the batch (returned);
--   and otherwise the rows of tasker_apply_results_and_dispatch, a 'result'
--   row naming its message in msg_id; results of unknown steps are returned
--   for the caller to archive.
-- `returned` marks the rows whose message the caller needs (consume_through
-- joins the consumed row to them).
CREATE FUNCTION tasker_apply_queued_results(p_ids bigint[], p_bodies jsonb[], p_max_bytes integer,
                                            p_node_id text, p_suffix text,
                                            p_hold_seconds integer)
RETURNS TABLE (kind text, msg_id bigint, returned boolean, ordinal integer,
               workflow_step_uuid uuid, outcome text, detail text, task_uuid uuid,
               queue_name text, to_state text, touched integer, locked integer, sent integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  batch jsonb;
BEGIN
  IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
    RETURN;
  END IF;
  IF cardinality(p_bodies) IS DISTINCT FROM cardinality(p_ids) THEN
    RAISE EXCEPTION 'tasker_apply_queued_results: % ids, % bodies', cardinality(p_ids),
      cardinality(p_bodies) USING ERRCODE = 'TK004';
  END IF;
  RETURN QUERY SELECT 'taken'::text, NULL::bigint, false, NULL::integer, NULL::uuid, NULL::text,
                      NULL::text, NULL::uuid, NULL::text, NULL::text, NULL::integer,
                      NULL::integer, cardinality(p_ids);
  IF EXISTS (SELECT 1 FROM unnest(p_bodies) AS b(m)
             WHERE NOT tasker_is_plain_step_result(b.m, p_max_bytes)) THEN
    RETURN QUERY SELECT 'unchecked'::text, i.id, true, NULL::integer, NULL::uuid, NULL::text,
                        NULL::text, NULL::uuid, NULL::text, NULL::text, NULL::integer,
                        NULL::integer, NULL::integer
                   FROM unnest(p_ids) AS i(id);
    RETURN;
  END IF;
  SELECT jsonb_agg(b.m ORDER BY b.n) INTO batch FROM unnest(p_bodies) WITH ORDINALITY AS b(m, n);
  RETURN QUERY
    SELECT r.kind, CASE WHEN r.kind = 'result' THEN p_ids[r.ordinal + 1] END,
           coalesce(r.kind = 'result' AND r.outcome = 'unknown_step', false), r.ordinal,
           r.workflow_step_uuid, r.outcome, r.detail, r.task_uuid, r.queue_name, r.to_state,
           r.touched, r.locked, r.sent
      FROM tasker_apply_results_and_dispatch(batch, p_node_id, p_suffix, p_hold_seconds) AS r;
END
$$;
