-- Store::finish_and_reserve: the end of one job and the start of the next, in Ruby's order.
-- KEYS: 1 worker:<id>  2 stat:processed  3 stat:processed:<id>  4 stat:failed
--       5 stat:failed:<id>  6 failure list  7 pause-all-workers  8.. queue:<name>
-- ARGV: 1 '' (no job to finish) | 'done' | 'failed' (also counts stat:failed)
--       2 failure record to RPUSH ('' for none)   3 '1' to reserve, '0' not to
--       4 run_at   5.. each queue's name as JSON, parallel to KEYS[8..]
-- Reply: {tag, bookkeeping errors ('' if none), ...} with tag 0 nothing taken | 1 paused |
--        2 an LPOP failed (then its error) | 3 a job (then queue index, item, 1 if SET)
-- The bookkeeping runs each command whatever the others answer, as Ruby's pipeline does: one
-- refused command (a key of the wrong type) must not stop the rest, nor the reservation.
local errs = {}
local function book(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then errs[#errs + 1] = r.err end
end
if ARGV[2] ~= '' then book('RPUSH', KEYS[6], ARGV[2]) end
if ARGV[1] == 'failed' then
  book('INCRBY', KEYS[4], 1)
  book('INCRBY', KEYS[5], 1)
end
if ARGV[1] ~= '' then
  book('DEL', KEYS[1])
  book('INCRBY', KEYS[2], 1)
  book('INCRBY', KEYS[3], 1)
end
local errors = table.concat(errs, '; ')
-- Ruby's paused?: GET pause-all-workers, then .to_s.strip.downcase == 'true'.
local pause = redis.pcall('GET', KEYS[7])
if type(pause) == 'string' and
    string.lower((string.gsub(pause, '^[%s%z]*(.-)[%s%z]*$', '%1'))) == 'true' then
  return {1, errors}
end
if ARGV[3] ~= '1' then return {0, errors} end
for i = 8, #KEYS do
  local item = redis.pcall('LPOP', KEYS[i])
  if type(item) == 'table' and item.err then return {2, errors, item.err} end
  if item then
    local ok, job = pcall(cjson.decode, item)
    if ok and type(job) == 'table' and job['class'] ~= nil then
      -- The bytes of WorkingOn::encode_raw (resque-protocol): keep the two the same.
      redis.call('SET', KEYS[1], '{"queue":' .. ARGV[i - 3] .. ',"run_at":"' .. ARGV[4] ..
        '","payload":' .. item .. '}')
      return {3, errors, i - 7, item, 1}
    end
    return {3, errors, i - 7, item, 0}
  end
end
return {0, errors}
