-- Store::finish_and_reserve: the end of one job and the start of the next, in Ruby's order,
-- for one worker or for several at once (the job slots of one process, each its own
-- worker: one call, one round trip, for all of them). Each worker's part is a section.
-- KEYS, per section (from offset K): 1 worker:<id>  2 stat:processed  3 stat:processed:<id>
--       4 stat:failed  5 stat:failed:<id>  6 failure list  7 pause-all-workers
--       8 resque-rs:reserve:<id> (ours: the last call's token and answer)
--       9 resque-rs:inflight:<id>  10 resque-rs:recoveries  11 resque-rs:requeued:<id>
--       (ours: reliable mode)  12 resque-rs:reaped:<id>  13 resque-rs:held:<id>
--       14 resque-rs:holders (ours: jobs reserved ahead)  14+j queue:<name> (j = 1..n)
-- ARGV: 1 the number of sections; then, per section (from offset A):
--       1 n, the number of queues   2 '' (no job to finish) | 'done' | 'failed' (also
--       counts stat:failed)   3 failure record to RPUSH ('' for none)   4 '1' to reserve,
--       '0' not to   5 run_at   6 the call's token   7 '1' in reliable mode
--       8 '1' if the finished job was registered under worker:<id>
--       9 the day's history key ('' for none)  10 m, the number of metrics increments
--       11 e, the number of expiries  12 x, jobs run before the one described, all done
--       (reserving ahead; 0 without): they and the one described came from the held list
--       but for the first, so x entries leave it
--       13 h, jobs to hold ahead ('-1': this worker never holds, the held list is not read)
--       14 the worker's id (for resque-rs:holders)
--       14+j each queue's name as JSON, parallel to the queue keys   then m triples
--       (key, field, n) for HINCRBY   then e pairs (key, seconds) for EXPIRE (the job
--       metrics: sums a worker added up, see resque_protocol::metrics::Sums)
-- Reply: one per section, {tag, bookkeeping errors ('' if none), reaped, ...} with tag 0
--        nothing taken | 1 paused | 2 an LPOP failed (then its error) | 3 a job (then
--        its queue's name as JSON, item, 1 if SET, then the held list's entries) | 4 the
--        first write was refused (then nothing was written); reaped 0 | 1 the finished
--        job had been given up for dead (not counted) | 2 the same, and its requeued copy
--        was taken back out of its queue (counted)
-- The sections are independent: each does what a call of its own would have done, in the
-- order given, so the end state is that of each worker calling in turn.
-- The bookkeeping runs each command whatever the others answer, as Ruby's pipeline does: one
-- refused command (a key of the wrong type) must not stop the rest, nor the reservation.
--
-- A section sent again with the same token (its reply was lost: a connection dropped, Redis
-- restarted after running it, the client resent it) does nothing again: it answers what
-- the first run answered, so no job is popped twice and no bookkeeping counts twice.
-- The record is one string, `token \n tag \n set \n queue JSON \n item`: one GET before and
-- one SET after (with its expiry) is the least this costs Redis per job. A resent call's held
-- list is read as it stands: nothing has touched it since (its worker waits for this reply).
-- A job's reply: the job, then (a worker that holds jobs) its held list as it now stands.
-- `whole`, when given, is the held list as this call left it (it was empty before the
-- call's fill, which pushed exactly these), so it is not read back.
local function job(K, holds, errors, reaped, qjson, item, set, whole)
  local out = {3, errors, reaped, qjson, item, set}
  if holds then
    for _, h in ipairs(whole or redis.call('LRANGE', KEYS[K + 13], 0, -1)) do
      out[#out + 1] = h
    end
  end
  return out
end

local function section(K, A)
  local holds = ARGV[A + 13] ~= '-1'
  local seen = redis.pcall('GET', KEYS[K + 8])
  if type(seen) == 'string' then
    local token, tag, set, qjson, item =
      string.match(seen, '^([^\n]*)\n(%d+)\n(%d+)\n([^\n]*)\n(.*)$')
    if token == ARGV[A + 6] then
      tag = tonumber(tag)
      if tag == 3 then return job(K, holds, '', 0, qjson, item, tonumber(set)) end
      if tag == 2 then return {2, '', 0, item} end
      return {tag, '', 0}
    end
  end
  -- Remembers this call's answer under its token, for an hour (a dead worker's goes away).
  local function answer(tag, qjson, item, set)
    redis.pcall('SET', KEYS[K + 8], ARGV[A + 6] .. '\n' .. tag .. '\n' .. (set or 0) .. '\n' ..
      (qjson or '') .. '\n' .. (item or ''), 'EX', 3600)
  end

  local errs = {}
  local function book(...)
    local r = redis.pcall(...)
    if type(r) == 'table' and r.err then errs[#errs + 1] = r.err end
  end
  local reliable = ARGV[A + 7] == '1'
  local finishing = ARGV[A + 2] ~= ''
  local count = finishing
  local reaped = 0
  if finishing then
    -- The first write is a DEL, which Redis allows when it is out of memory (with
    -- maxmemory-policy noeviction it refuses only writes that add data, and only before a
    -- script's first write), so the rest of the bookkeeping, the failure record included,
    -- is never refused half-way. Refused even so (a replica: READONLY), nothing was written:
    -- the caller keeps it all and sends it again.
    local mark = redis.pcall('DEL', KEYS[K + 12])
    if type(mark) == 'table' and mark.err then return {4, mark.err, 0} end
    -- A reaper that gave this worker up for dead (its lease ran out while it was stopped, or
    -- `resque remove`) left its mark with the record it wrote for this job, or with the copy
    -- it put back in the queue (reliable mode). Counting this run as well would count the
    -- job twice; in reliable mode, the copy still waiting in its queue is taken back out
    -- instead, and this run counts. (A Redis that restarted empty has no mark: the job is
    -- counted.)
    if ARGV[A + 8] == '1' and mark == 1 then
      count = false
      reaped = 1
      if reliable then
        local back = redis.pcall('LRANGE', KEYS[K + 11], 0, 1)
        if type(back) == 'table' and #back == 2 and
            redis.pcall('LREM', back[1], 1, back[2]) == 1 then
          count = true
          reaped = 2
          if redis.pcall('EXISTS', KEYS[K + 10]) == 1 then
            book('HDEL', KEYS[K + 10], redis.sha1hex(back[2]))
          end
        end
        redis.pcall('DEL', KEYS[K + 11])
      end
    end
  end
  if count then
    if ARGV[A + 3] ~= '' then book('RPUSH', KEYS[K + 6], ARGV[A + 3]) end
    if ARGV[A + 2] == 'failed' then
      book('INCRBY', KEYS[K + 4], 1)
      book('INCRBY', KEYS[K + 5], 1)
    end
  end
  if finishing and reliable then
    -- The job is over: it leaves the in-flight record, and its count of recoveries (if it
    -- was ever taken back from a dead worker) goes with it.
    if reaped == 0 and redis.pcall('EXISTS', KEYS[K + 10]) == 1 then
      local held = redis.pcall('GET', KEYS[K + 9])
      local nl = type(held) == 'string' and string.find(held, '\n', 1, true)
      if nl then book('HDEL', KEYS[K + 10], redis.sha1hex(string.sub(held, nl + 1))) end
    end
    book('DEL', KEYS[K + 9])
  end
  if finishing then book('DEL', KEYS[K + 1]) end
  -- Jobs held ahead that ran before the one described: done, and out of the held list
  -- (whether counted here or, given up for dead, put back by the reaper already).
  local extra = tonumber(ARGV[A + 12])
  if finishing and extra > 0 then book('LTRIM', KEYS[K + 13], extra, -1) end
  if count then
    book('INCRBY', KEYS[K + 2], 1 + extra)
    book('INCRBY', KEYS[K + 3], 1 + extra)
    if ARGV[A + 9] ~= '' then
      -- Ours (resque-protocol's metrics module): the day's history counts what stat:processed
      -- counts. Its expiry is set with its first field, once a day, not once a job.
      if redis.pcall('HINCRBY', ARGV[A + 9], 'processed', 1 + extra) == 1 + extra then
        book('EXPIRE', ARGV[A + 9], 7862400)
      end
      if ARGV[A + 2] == 'failed' then book('HINCRBY', ARGV[A + 9], 'failed', 1) end
    end
  end
  -- The job metrics: runs (counted or not: a job given up for dead that finished anyway did
  -- run), summed by the worker over a few seconds. Part of this call, so a resent call
  -- (answered above) adds nothing twice.
  local n, m = tonumber(ARGV[A + 1]), tonumber(ARGV[A + 10])
  local at = A + 14 + n
  for j = 0, m - 1 do
    book('HINCRBY', ARGV[at + 3 * j + 1], ARGV[at + 3 * j + 2], ARGV[at + 3 * j + 3])
  end
  at = at + 3 * m
  for j = 0, tonumber(ARGV[A + 11]) - 1 do
    book('EXPIRE', ARGV[at + 2 * j + 1], ARGV[at + 2 * j + 2])
  end
  local errors = table.concat(errs, '; ')
  -- Ruby's paused?: GET pause-all-workers, then .to_s.strip.downcase == 'true'.
  local pause = redis.pcall('GET', KEYS[K + 7])
  if type(pause) == 'string' and
      string.lower((string.gsub(pause, '^[%s%z]*(.-)[%s%z]*$', '%1'))) == 'true' then
    answer(1)
    return {1, errors, reaped}
  end
  if ARGV[A + 4] ~= '1' then
    answer(0)
    return {0, errors, reaped}
  end
  -- The next job: the first held one (taken ahead, already out of its queue), else the
  -- first queue's in priority order.
  local qjson, item
  if holds then
    local h = redis.pcall('LPOP', KEYS[K + 13])
    if type(h) == 'string' then
      local nl = string.find(h, '\n', 1, true)
      if nl then qjson, item = string.sub(h, 1, nl - 1), string.sub(h, nl + 1) end
    end
  end
  if not item then
    for i = 1, n do
      local popped = redis.pcall('LPOP', KEYS[K + 14 + i])
      if type(popped) == 'table' and popped.err then
        answer(2, '', popped.err)
        return {2, errors, reaped, popped.err}
      end
      if popped then
        qjson, item = ARGV[A + 14 + i], popped
        break
      end
    end
  end
  if not item then
    answer(0)
    return {0, errors, reaped}
  end
  if reliable then
    -- In the same step as the pop: a worker that dies from here on leaves the job where
    -- the reaper finds it (the queue's name as JSON, a newline, the item's bytes).
    redis.call('SET', KEYS[K + 9], qjson .. '\n' .. item)
  end
  local set = 0
  local ok, decoded = pcall(cjson.decode, item)
  if ok and type(decoded) == 'table' and decoded['class'] ~= nil then
    -- The bytes of WorkingOn::encode_raw (resque-protocol): keep the two the same.
    redis.call('SET', KEYS[K + 1], '{"queue":' .. qjson .. ',"run_at":"' .. ARGV[A + 5] ..
      '","payload":' .. item .. '}')
    set = 1
  end
  -- Reserving ahead: more jobs, in priority order, moved in this same step from their
  -- queues to the held list (its entries as the in-flight record's), which the worker
  -- runs next and the reaper puts back should the worker die first. Each queue gives what
  -- it has with one LPOP of a count (Redis 6.2+) and the held list takes them with one
  -- RPUSH: a command a queue, not two a job (Redis's time a call fell by a third).
  local want = tonumber(ARGV[A + 13])
  local whole
  if want > 0 then
    local before = redis.call('LLEN', KEYS[K + 13])
    want = want - before
    if before == 0 then whole = {} end
    local i = 1
    while want > 0 and i <= n do
      local popped = redis.pcall('LPOP', KEYS[K + 14 + i], want)
      if type(popped) == 'table' and popped.err then
        -- A Redis before 6.2 (no count), or a key that is not a list (then the single
        -- pop fails too, and the fill goes on with the next queue).
        popped = {}
        while #popped < want do
          local one = redis.pcall('LPOP', KEYS[K + 14 + i])
          if type(one) ~= 'string' then break end
          popped[#popped + 1] = one
        end
      end
      if type(popped) == 'table' and #popped > 0 then
        local q = ARGV[A + 14 + i] .. '\n'
        for j = 1, #popped do popped[j] = q .. popped[j] end
        redis.call('RPUSH', KEYS[K + 13], unpack(popped))
        if whole then
          for j = 1, #popped do whole[#whole + 1] = popped[j] end
        end
        want = want - #popped
      end
      i = i + 1
    end
    redis.call('SADD', KEYS[K + 14], ARGV[A + 14])
  end
  answer(3, qjson, item, set)
  return job(K, holds, errors, reaped, qjson, item, set, whole)
end

local out = {}
local K, A = 0, 1
for s = 1, tonumber(ARGV[1]) do
  out[s] = section(K, A)
  local n = tonumber(ARGV[A + 1])
  K = K + 14 + n
  A = A + 14 + n + 3 * tonumber(ARGV[A + 10]) + 2 * tonumber(ARGV[A + 11])
end
return out
