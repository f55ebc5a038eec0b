-- The commit of one transaction (triggers_core/storage/redis.py).
-- KEYS: the session's keys. ARGV: pinned version, pinned epoch, commit id,
-- now, ttl (ms), channel, feed fragment, strict (whole-session read), then
-- the counts of read stamps, tasks, instances, kwargs, index additions and
-- index removals, then those sections flattened.
-- Returns {1, version} if this commit id was already applied, {0, version}
-- on a conflict, {2, version} once applied, {-1, message} if the stored
-- data cannot take the write (nothing written then).
--
-- Redis does not roll back a script that fails half-way, so phase 1 reads
-- every key that phase 2 writes (or checks its type) and validates every
-- value phase 2 computes with: after phase 1, no command can fail. Writes
-- are batched (one HSET per hash, one ZADD of all stamps): each
-- redis.call costs more in Lua glue than the command itself.

local txid = ARGV[3]
if redis.call('ZSCORE', done, txid) then
  return {1, tonumber(redis.call('HGET', meta, 'version') or '0')}
end
local pinned, pinned_epoch = tonumber(ARGV[1]), ARGV[2]
local now, ttl, channel, feed = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local strict = ARGV[8] == '1'
local n_read, n_tasks = tonumber(ARGV[9]), tonumber(ARGV[10])
local n_inst, n_kwargs = tonumber(ARGV[11]), tonumber(ARGV[12])
local n_add, n_rm = tonumber(ARGV[13]), tonumber(ARGV[14])
local pos = 15

local function corrupt(message) return {-1, message} end
local function batched(command, key, args)
  for first = 1, #args, 1000 do
    redis.call(command, key, unpack(args, first, math.min(first + 999, #args)))
  end
end
local function check_type(key, expected)
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'none' and kind ~= expected then
    return key .. ' is a ' .. kind .. ', expected a ' .. expected
  end
end

-- Phase 1: validate.
local metaflat = redis.call('HGETALL', meta)
local m = {}
for i = 1, #metaflat, 2 do m[metaflat[i]] = metaflat[i + 1] end
for field, value in pairs(m) do
  if field ~= 'epoch' and field ~= 'created' and field ~= 'updated'
      and not string.match(value, '^%-?%d+$') then
    return corrupt(meta .. ' field ' .. field .. ' is not an integer: ' .. value)
  end
end
local version = tonumber(m['version'] or '0')
local epoch = m['epoch'] or ''
if epoch ~= pinned_epoch or version < pinned or (strict and version ~= pinned) then
  return {0, version}
end
local stamps = {}
for i = pos, pos + n_read - 1 do stamps[#stamps + 1] = ARGV[i] end
stamps[#stamps + 1] = 'v:'  -- never stored: makes ZMSCORE check the key type
for _, s in ipairs(chunked('ZMSCORE', changes, stamps)) do
  if s and tonumber(s) > pinned then return {0, version} end
end
pos = pos + n_read

local task_rows, inst_rows, kw_rows = {}, {}, {}
local task_names, inst_names, count_names = {}, {}, {}
for _ = 1, n_tasks do
  task_rows[#task_rows + 1] = {ARGV[pos], ARGV[pos + 1]}
  task_names[#task_names + 1] = ARGV[pos]
  count_names[#count_names + 1] = ARGV[pos]
  pos = pos + 2
end
for _ = 1, n_inst do
  inst_rows[#inst_rows + 1] = {
    ARGV[pos], ARGV[pos + 1], tonumber(ARGV[pos + 2]), ARGV[pos + 3], ARGV[pos + 4]}
  inst_names[#inst_names + 1] = ARGV[pos]
  count_names[#count_names + 1] = ARGV[pos + 1]
  pos = pos + 5
end
for _ = 1, n_kwargs do
  kw_rows[#kw_rows + 1] = {ARGV[pos], ARGV[pos + 1]}
  pos = pos + 2
end

local count_of = {}
if #count_names > 0 then
  local raw = chunked('HMGET', counts, count_names)
  for i, task in ipairs(count_names) do
    if raw[i] and not string.match(raw[i], '^%d+$') then
      return corrupt(counts .. ' of ' .. task .. ' is not an integer: ' .. raw[i])
    end
    count_of[task] = tonumber(raw[i] or '0')
  end
end
local old_status = {}
if #inst_names > 0 then
  old_status = chunked('HMGET', status, inst_names)
  local problem = check_type(inst, 'hash') or check_type(open, 'zset')
  if problem then return corrupt(problem) end
end
-- Whether each task exists (new tasks, and tasks getting a first instance).
local exists = {}
local probe = {}
for _, name in ipairs(task_names) do probe[#probe + 1] = name end
for _, row in ipairs(inst_rows) do
  if count_of[row[2]] == 0 then probe[#probe + 1] = row[2] end
end
if #probe > 0 then
  local found = chunked('HMGET', tasks, probe)
  for i, name in ipairs(probe) do exists[name] = found[i] ~= false end
end
if n_kwargs > 0 then
  local problem = check_type(kwargs, 'hash')
  if problem then return corrupt(problem) end
end
local lists = {}
local index_ops = {}
for i = 1, n_add + n_rm do
  local trigger, task = ARGV[pos], ARGV[pos + 1]
  if lists[trigger] == nil then
    local listed = redis.call('HGET', index, trigger)
    local names = {}
    if listed then
      local ok, decoded = pcall(cjson.decode, listed)
      if not ok or type(decoded) ~= 'table' then
        return corrupt(index .. ' entry ' .. trigger .. ' is not a JSON list')
      end
      names = decoded
    end
    lists[trigger] = names
  end
  index_ops[#index_ops + 1] = {trigger, task, i <= n_add}
  pos = pos + 2
end

-- Phase 2: compute everything, then write in batches.
version = version + 1
local delta = {}
local function bump(field, by) delta[field] = (delta[field] or 0) + by end
local changed = {}
local function stamp(member)
  changed[#changed + 1] = version
  changed[#changed + 1] = member
end

local task_fields = {}
for _, row in ipairs(task_rows) do
  local name = row[1]
  task_fields[#task_fields + 1] = name
  task_fields[#task_fields + 1] = row[2]
  if not exists[name] then
    exists[name] = true
    bump('tasks', 1)
    if count_of[name] == 0 then bump('idle', 1) end
  end
  stamp('t:' .. name)
end

local inst_fields, status_fields, count_fields = {}, {}, {}
local opened, closed = {}, {}
for i, row in ipairs(inst_rows) do
  local name, task, idx, new, record = row[1], row[2], row[3], row[4], row[5]
  local old = old_status[i]
  inst_fields[#inst_fields + 1] = name
  inst_fields[#inst_fields + 1] = record
  if old ~= new then
    status_fields[#status_fields + 1] = name
    status_fields[#status_fields + 1] = new
    if old then bump('s:' .. old, -1) else bump('instances', 1) end
    bump('s:' .. new, 1)
    if new == 'unstarted' then
      opened[#opened + 1] = 0
      opened[#opened + 1] = name
    elseif old == 'unstarted' then
      closed[#closed + 1] = name
    end
    if not old or old == 'unstarted' or new == 'unstarted' then
      stamp('o:' .. task)
    end
  end
  if idx + 1 > count_of[task] then
    if count_of[task] == 0 and exists[task] then bump('idle', -1) end
    count_of[task] = idx + 1
    count_fields[#count_fields + 1] = task
    count_fields[#count_fields + 1] = idx + 1
  end
  stamp('i:' .. name)
end

local kw_fields = {}
for _, row in ipairs(kw_rows) do
  kw_fields[#kw_fields + 1] = row[1]
  kw_fields[#kw_fields + 1] = row[2]
  stamp('k:' .. row[1])
end

for _, op in ipairs(index_ops) do
  local trigger, task, add = op[1], op[2], op[3]
  local kept, present = {}, false
  for _, n in ipairs(lists[trigger]) do
    if n == task then present = true end
    if n ~= task or add then kept[#kept + 1] = n end
  end
  if add and not present then kept[#kept + 1] = task end
  lists[trigger] = kept
end
local index_fields, index_gone = {}, {}
for trigger, names in pairs(lists) do
  if #names == 0 then
    index_gone[#index_gone + 1] = trigger
  else
    index_fields[#index_fields + 1] = trigger
    index_fields[#index_fields + 1] = cjson.encode(names)
  end
  stamp('x:' .. trigger)
end

local function value(field) return tonumber(m[field] or '0') + (delta[field] or 0) end
local unresolved = 0
for _, s in ipairs({UNRESOLVED}) do unresolved = unresolved + value(s) end
local finished = value('instances') > 0 and value('idle') == 0 and unresolved == 0
local expire = ttl > 0 and finished

local meta_fields = {'version', version, 'updated', now}
if epoch == '' then
  for _, f in ipairs({'epoch', txid, 'created', now}) do
    meta_fields[#meta_fields + 1] = f
  end
end
for field in pairs(delta) do
  meta_fields[#meta_fields + 1] = field
  meta_fields[#meta_fields + 1] = value(field)
end
if expire then
  meta_fields[#meta_fields + 1] = 'expiring'
  meta_fields[#meta_fields + 1] = '1'
end

-- Writes (none of these can fail now).
batched('HSET', tasks, task_fields)
batched('HSET', inst, inst_fields)
batched('HSET', status, status_fields)
batched('HSET', counts, count_fields)
batched('HSET', kwargs, kw_fields)
batched('HSET', index, index_fields)
batched('HDEL', index, index_gone)
batched('ZADD', open, opened)
batched('ZREM', open, closed)
batched('ZADD', changes, changed)
batched('HSET', meta, meta_fields)
if not expire and m['expiring'] then redis.call('HDEL', meta, 'expiring') end

local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZADD', done, now_ms, txid)
if version % 64 == 0 then
  redis.call('ZREMRANGEBYSCORE', done, '-inf', now_ms - {DONE_MS})
end
if expire then
  for i = 1, #KEYS do redis.call('PEXPIREAT', KEYS[i], now_ms + ttl) end
elseif m['expiring'] then
  for i = 1, #KEYS do redis.call('PERSIST', KEYS[i]) end
end
redis.call('PUBLISH', channel, '{"version":' .. version .. ',' .. feed .. '}')
return {2, version}
