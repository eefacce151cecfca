-- Whether a step message is well formed, as a worker's parser judges it.
--
-- A worker's claim consumes (deletes) the messages whose steps it starts, in
-- the statement that starts them: the step's in_progress state is the
-- durable record of the work from then on (a worker that dies mid-step
-- leaves the step to the rescue sweep, as it always did), and the message no
-- longer needs a visibility update when read and a delete when its result
-- is posted. A message the worker's parser refuses must be archived with its
-- reason, never dropped, so the claim consumes only messages this function
-- accepts; every other message stays in the queue, hidden, for the worker to
-- archive (or, if the parser accepts it after all, to delete with its
-- result).
--
-- So this check must be at least as strict as the parser
-- (messaging/wire.cpp, parse_step_message), never laxer; stricter costs only
-- speed. It requires: an object; task_uuid and step_uuid as UUID text;
-- step_name, handler and task_name as non-empty strings; namespace an
-- identifier; attempt (1..2^31-1), retry_limit (0..) and timeout_seconds
-- (1..) as integers written without a fraction; inputs, dependency_results
-- and context absent, null or objects; and no run of 255 digits anywhere in
-- the text (a number beyond a double's range, which jsonb keeps and the
-- parser refuses).

CREATE FUNCTION tasker_is_step_message(m jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    jsonb_typeof(m) = 'object'
    AND jsonb_typeof(m->'task_uuid') = 'string'
    AND m->>'task_uuid' ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
    AND jsonb_typeof(m->'step_uuid') = 'string'
    AND m->>'step_uuid' ~ '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$'
    AND jsonb_typeof(m->'step_name') = 'string' AND m->>'step_name' <> ''
    AND jsonb_typeof(m->'handler') = 'string' AND m->>'handler' <> ''
    AND jsonb_typeof(m->'task_name') = 'string' AND m->>'task_name' <> ''
    AND jsonb_typeof(m->'namespace') = 'string' AND m->>'namespace' ~ '^[a-z][a-z0-9_]{0,47}$'
    AND coalesce(jsonb_typeof(m->'inputs'), 'null') IN ('object', 'null')
    AND coalesce(jsonb_typeof(m->'dependency_results'), 'null') IN ('object', 'null')
    AND coalesce(jsonb_typeof(m->'context'), 'null') IN ('object', 'null')
    AND jsonb_typeof(m->'attempt') = 'number'
    AND CASE WHEN m->>'attempt' ~ '^[0-9]{1,10}$'
             THEN (m->>'attempt')::bigint BETWEEN 1 AND 2147483647 ELSE false END
    AND jsonb_typeof(m->'retry_limit') = 'number'
    AND CASE WHEN m->>'retry_limit' ~ '^[0-9]{1,10}$'
             THEN (m->>'retry_limit')::bigint BETWEEN 0 AND 2147483647 ELSE false END
    AND jsonb_typeof(m->'timeout_seconds') = 'number'
    AND CASE WHEN m->>'timeout_seconds' ~ '^[0-9]{1,10}$'
             THEN (m->>'timeout_seconds')::bigint BETWEEN 1 AND 2147483647 ELSE false END
    AND m::text !~ '[0-9]{255}',
    false)
$$;
