-- The commit of one transaction (triggers_core/storage/redis.py).
-- KEYS: the session's keys. ARGV: pinned version, pinned epoch, commit id,
-- now, ttl (ms), channel, feed fragment, strict (whole-session read), then
-- the counts of read stamps, tasks, instances, kwargs, index additions and
-- index removals, then those sections flattened.
-- Returns {1, version} if this commit id was already applied, {0, version}
-- on a conflict, {2, version} once applied, {-1, message} if the stored
-- data cannot take the write (nothing written then).
local expected = {TYPES}
for i = 1, #expected do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind ~= 'none' and kind ~= expected[i] then
    return {-1, KEYS[i] .. ' is a ' .. kind .. ', expected a ' .. expected[i]}
  end
end

local txid = ARGV[3]
if redis.call('ZSCORE', done, txid) then
  return {1, tonumber(redis.call('HGET', meta, 'version') or '0')}
end
local pinned, pinned_epoch = tonumber(ARGV[1]), ARGV[2]
local now, ttl, channel, feed = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local strict = ARGV[8] == '1'
local n_read, n_tasks, n_inst = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local n_kwargs, n_add, n_rm = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local pos = 15

-- Phase 1: validate; nothing is written before every check passed.
local metaflat = redis.call('HGETALL', meta)
local m = {}
for i = 1, #metaflat, 2 do m[metaflat[i]] = metaflat[i + 1] end
for field, value in pairs(m) do
  if field ~= 'epoch' and field ~= 'created' and field ~= 'updated'
      and not string.match(value, '^%-?%d+$') then
    return {-1, meta .. ' field ' .. field .. ' is not an integer: ' .. value}
  end
end
local version = tonumber(m['version'] or '0')
local epoch = m['epoch'] or ''
if epoch ~= pinned_epoch or version < pinned or (strict and version ~= pinned) then
  return {0, version}
end
if n_read > 0 then
  local stamps = {}
  for i = pos, pos + n_read - 1 do stamps[#stamps + 1] = ARGV[i] end
  for _, s in ipairs(chunked('ZMSCORE', changes, stamps)) do
    if s and tonumber(s) > pinned then return {0, version} end
  end
end
pos = pos + n_read

local task_rows, inst_rows, kw_rows = {}, {}, {}
local count_of = {}
local function count(task)
  if count_of[task] == nil then
    local raw = redis.call('HGET', counts, task)
    if raw and not string.match(raw, '^%d+$') then return nil end
    count_of[task] = tonumber(raw or '0')
  end
  return count_of[task]
end
for _ = 1, n_tasks do
  local name = ARGV[pos]
  task_rows[#task_rows + 1] = {name, ARGV[pos + 1], redis.call('HEXISTS', tasks, name)}
  if count(name) == nil then return {-1, counts .. ' of ' .. name .. ' is corrupt'} end
  pos = pos + 2
end
for _ = 1, n_inst do
  local task = ARGV[pos + 1]
  if count(task) == nil then return {-1, counts .. ' of ' .. task .. ' is corrupt'} end
  inst_rows[#inst_rows + 1] = {
    ARGV[pos], task, tonumber(ARGV[pos + 2]), ARGV[pos + 3], ARGV[pos + 4],
    redis.call('HGET', status, ARGV[pos])}
  pos = pos + 5
end
for _ = 1, n_kwargs do
  kw_rows[#kw_rows + 1] = {ARGV[pos], ARGV[pos + 1]}
  pos = pos + 2
end
local lists = {}
local function index_list(trigger)
  if lists[trigger] == nil then
    local listed = redis.call('HGET', index, trigger)
    local names = {}
    if listed then
      local ok, decoded = pcall(cjson.decode, listed)
      if not ok or type(decoded) ~= 'table' then return nil end
      names = decoded
    end
    lists[trigger] = names
  end
  return lists[trigger]
end
local index_ops = {}
for i = 1, n_add + n_rm do
  local trigger, task = ARGV[pos], ARGV[pos + 1]
  if index_list(trigger) == nil then
    return {-1, index .. ' entry ' .. trigger .. ' is not a JSON list'}
  end
  index_ops[#index_ops + 1] = {trigger, task, i <= n_add}
  pos = pos + 2
end

-- Phase 2: write.
version = version + 1
local function stamp(member) redis.call('ZADD', changes, version, member) end
local function bump(field, by) redis.call('HINCRBY', meta, field, by) end
if epoch == '' then redis.call('HSET', meta, 'epoch', txid, 'created', now) end
for _, row in ipairs(task_rows) do
  local name, config, existed = row[1], row[2], row[3]
  redis.call('HSET', tasks, name, config)
  if existed == 0 then
    bump('tasks', 1)
    if count_of[name] == 0 then bump('idle', 1) end
  end
  stamp('t:' .. name)
end
for _, row in ipairs(inst_rows) do
  local name, task, idx, new, record, old = row[1], row[2], row[3], row[4], row[5], row[6]
  redis.call('HSET', inst, name, record)
  if old ~= new then
    redis.call('HSET', status, name, new)
    if old then bump('s:' .. old, -1) else bump('instances', 1) end
    bump('s:' .. new, 1)
    if new == 'unstarted' then
      redis.call('ZADD', open, 0, name)
    elseif old == 'unstarted' then
      redis.call('ZREM', open, name)
    end
    if not old or old == 'unstarted' or new == 'unstarted' then stamp('o:' .. task) end
  end
  if idx + 1 > count_of[task] then
    if count_of[task] == 0 and redis.call('HEXISTS', tasks, task) == 1 then
      bump('idle', -1)
    end
    count_of[task] = idx + 1
    redis.call('HSET', counts, task, idx + 1)
  end
  stamp('i:' .. name)
end
for _, row in ipairs(kw_rows) do
  redis.call('HSET', kwargs, row[1], row[2])
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
for trigger, names in pairs(lists) do
  if #names == 0 then
    redis.call('HDEL', index, trigger)
  else
    redis.call('HSET', index, trigger, cjson.encode(names))
  end
  stamp('x:' .. trigger)
end
redis.call('HSET', meta, 'version', version, 'updated', now)

local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZADD', done, now_ms, txid)
redis.call('ZREMRANGEBYSCORE', done, '-inf', now_ms - {DONE_MS})

local state = redis.call('HMGET', meta, 'instances', 'idle', {UNRESOLVED})
local unresolved = 0
for i = 3, #state do unresolved = unresolved + tonumber(state[i] or '0') end
local finished = tonumber(state[1] or '0') > 0 and tonumber(state[2] or '0') == 0
  and unresolved == 0
for i = 1, #KEYS do
  if ttl > 0 and finished then
    redis.call('PEXPIREAT', KEYS[i], now_ms + ttl)
  else
    redis.call('PERSIST', KEYS[i])
  end
end
redis.call('PUBLISH', channel, '{"version":' .. version .. ',' .. feed .. '}')
return {2, version}
