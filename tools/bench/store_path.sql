-- The database's own cost of the single-step path, in one session: no queues,
-- no node, no worker, no other connection competing for the cores. Each call
-- of tasker_bench_store_path(n) takes n new tasks through the statements the
-- request processor, a worker's claim and the result processor run (create
-- and start, settle, start the steps, apply their successes and advance,
-- finalize) and returns how many it completed. Comparing two schemas this way
-- moves far less with the machine's load than a burndown does.
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
  SELECT array_agg((c.ready->>'task_uuid')::uuid), array_agg((c.ready->>'workflow_step_uuid')::uuid)
    INTO tasks, steps
    FROM tasker_create_and_start_tasks(requests, 'path', true, '_queue') c
   WHERE c.ready IS NOT NULL;
  PERFORM tasker_finish_dispatch('{}', '{}', tasks, false);
  PERFORM count(*) FROM tasker_start_steps(steps);
  results := (SELECT jsonb_agg(jsonb_build_object('task_uuid', t, 'step_uuid', s,
                                                  'status', 'success', 'attempt', 1,
                                                  'results', jsonb_build_object('ok', true)))
              FROM unnest(tasks, steps) AS x(t, s));
  PERFORM count(*) FROM tasker_apply_step_results_and_advance(results, 'path', '_queue');
  SELECT count(*) INTO done
    FROM tasker_finish_dispatch('{}', '{"event": "enqueued"}', tasks, true);
  RETURN done;
END
$$;
