-- The database's own cost of the single-step path, in one session: no node,
-- no worker, no other connection competing for the cores. Each call of
-- tasker_bench_store_path(n) takes n new tasks through the statements the
-- request processor, a worker's claim and the result processor run (create,
-- start and send the first steps; the claim taking the step messages and
-- starting the steps; apply their successes, advance and finalize) and returns
-- how many it completed. The queue of task requests and the queue of results
-- are left out: their statements are the same whatever the schema. Comparing
-- two schemas this way moves far less with the machine's load than a
-- burndown does.
--
-- Run it in a scratch database, migrated by the build under test:
--   createdb -h 127.0.0.1 -U postgres path_a
--   tasker-node migrate --database-url postgresql://postgres@127.0.0.1:PORT/path_a
--   psql <that URL> -f tools/bench/store_path.sql
--   psql <that URL> -c '\timing on' -c 'SELECT sum(tasker_bench_store_path(50)) FROM generate_series(1, 20)'
-- The time of the last statement over 1,000 is the time per task; repeat it
-- alternately in the databases compared and compare the lower quartiles.
SELECT * FROM tasker_register_named_task('path', 'single', '1.0.0', '', '{}'::jsonb,
                                         '[{"name": "s", "handler": "noop"}]');
SELECT tasker_mq.create_queue('path_queue');

CREATE FUNCTION tasker_bench_store_path(n integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  requests jsonb;
  tasks uuid[];
  steps uuid[];
  results jsonb;
  done integer;
BEGIN
  requests := (SELECT jsonb_agg(jsonb_build_object(
                        'namespace', 'path', 'task_name', 'single', 'task_version', '1.0.0',
                        'context', jsonb_build_object('n', i, 'r', random())))
               FROM generate_series(1, n) i);
  PERFORM count(*) FROM tasker_create_start_and_dispatch(requests, 'path', true, '_queue', 30);
  -- The worker's claim: takes the step messages, starts their steps.
  WITH taken AS (
    DELETE FROM tasker_mq.q_path_queue
     WHERE msg_id = ANY (ARRAY(SELECT msg_id FROM tasker_mq.q_path_queue ORDER BY msg_id
                               LIMIT n FOR UPDATE SKIP LOCKED))
    RETURNING message)
  SELECT array_agg((message->>'task_uuid')::uuid), array_agg((message->>'step_uuid')::uuid)
    INTO tasks, steps FROM taken;
  PERFORM count(*) FROM tasker_start_steps(steps);
  results := (SELECT jsonb_agg(jsonb_build_object('task_uuid', t, 'step_uuid', s,
                                                  'status', 'success', 'attempt', 1,
                                                  'results', jsonb_build_object('ok', true)))
              FROM unnest(tasks, steps) AS x(t, s));
  SELECT count(*) INTO done
    FROM tasker_apply_results_and_dispatch(results, 'path', '_queue', 30) d
   WHERE d.kind = 'finalized';
  RETURN done;
END
$$;
