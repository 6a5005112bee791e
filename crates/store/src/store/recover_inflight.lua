-- Store::recover_inflight: a dead worker's in-flight job (reliable mode) goes back to the head
-- of its queue, or, taken back too often already, becomes a failure record. One step, so two
-- reapers never both requeue it, and a crash part-way never loses it.
-- KEYS: 1 resque-rs:inflight:<id>  2 queue:<name>  3 queues  4 resque-rs:recoveries
--       5 worker:<id>  6 failure list  7 failed_queues  8 resque-rs:requeued:<id>
--       9 resque-rs:reaped:<id>
-- ARGV: 1 the in-flight record as the caller read it (the queue's name as JSON, a newline,
--       the item)  2 the queue's name  3 most recoveries allowed
--       4 the failure record  5 the name to SADD to failed_queues ('' for none)
-- Reply: {0, 0} the item is no longer there (handled already) | {1, n} requeued, the n-th
--        time | {2, n} recorded as a failure instead
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, 0} end
local item = string.sub(ARGV[1], string.find(ARGV[1], '\n', 1, true) + 1)
local sha = redis.sha1hex(item)
local n = (tonumber(redis.call('HGET', KEYS[4], sha)) or 0) + 1
-- The job's new home first: if Redis refuses that write (a key of the wrong type, no
-- memory), nothing else has changed and the job is still in flight for the next try.
if n <= tonumber(ARGV[3]) then
  redis.call('LPUSH', KEYS[2], item)
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('HSET', KEYS[4], sha, n)
  redis.call('EXPIRE', KEYS[4], 604800)
  -- Where the copy went, for a day: should the worker only have been stopped (SIGSTOP, a
  -- long pause) and finish the job after all, its bookkeeping takes the copy back out.
  redis.call('DEL', KEYS[8])
  redis.call('RPUSH', KEYS[8], KEYS[2], item)
  redis.call('EXPIRE', KEYS[8], 86400)
else
  redis.call('RPUSH', KEYS[6], ARGV[4])
  if ARGV[5] ~= '' then redis.call('SADD', KEYS[7], ARGV[5]) end
  redis.call('HDEL', KEYS[4], sha)
end
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[5])
-- The worker, if it was only stopped, finds this mark when it finishes the job.
redis.call('SET', KEYS[9], '1', 'EX', 86400)
if n <= tonumber(ARGV[3]) then return {1, n} end
return {2, n}
