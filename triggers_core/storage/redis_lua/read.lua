-- Reads for one call of the Redis reader (triggers_core/storage/redis.py).
-- KEYS: the session's keys. ARGV: op, args...
-- Returns {version, epoch, newest stamp of what was read, kind, name, value, ...}.
local out, stamps = {}, {}
local function emit(kind, name, value)
  out[#out + 1] = kind
  out[#out + 1] = name
  out[#out + 1] = value
end
local loaded_tasks = {}
local function read_tasks(names)
  local wanted = {}
  for _, n in ipairs(names) do
    if not loaded_tasks[n] then
      loaded_tasks[n] = true
      wanted[#wanted + 1] = n
    end
  end
  local found = {}
  if #wanted == 0 then return found end
  local values = chunked('HMGET', tasks, wanted)
  for i, n in ipairs(wanted) do
    emit('t', n, values[i])
    stamps[#stamps + 1] = 't:' .. n
    found[n] = values[i]
  end
  return found
end
local function read_instances(names)
  if #names == 0 then return end
  local values = chunked('HMGET', inst, names)
  local owners, seen = {}, {}
  for i, n in ipairs(names) do
    emit('i', n, values[i])
    stamps[#stamps + 1] = 'i:' .. n
    local task = string.match(n, '^(.*)#%d+$')
    if task and values[i] and not seen[task] then
      seen[task] = true
      owners[#owners + 1] = task
    end
  end
  read_tasks(owners)
end
local function read_open(task)
  local prefix = task .. '#'
  local names = {}
  local range = redis.call('ZRANGEBYLEX', open, '[' .. prefix, '(' .. task .. '$')
  for _, n in ipairs(range) do
    if string.find(n, '^%d+$', #prefix + 1) then names[#names + 1] = n end
  end
  emit('c', task, redis.call('HGET', counts, task) or '0')
  stamps[#stamps + 1] = 'o:' .. task
  for _, n in ipairs(names) do emit('o', task, n) end
  read_instances(names)
end
local function read_kwargs(triggers)
  if #triggers == 0 then return end
  local values = chunked('HMGET', kwargs, triggers)
  for i, t in ipairs(triggers) do
    emit('k', t, values[i])
    stamps[#stamps + 1] = 'k:' .. t
  end
end
local function read_index(trigger)
  local listed = redis.call('HGET', index, trigger)
  emit('x', trigger, listed)
  stamps[#stamps + 1] = 'x:' .. trigger
  if not listed then return {} end
  local ok, names = pcall(cjson.decode, listed)
  if ok and type(names) == 'table' then return names end
  return {}
end
local function triggers_of(configs, names)
  local found, seen = {}, {}
  for _, name in ipairs(names) do
    local config = configs[name]
    if config then
      local ok, decoded = pcall(cjson.decode, config)
      if ok and type(decoded) == 'table' then
        for _, field in ipairs({'after', 'unless'}) do
          local list = decoded[field]
          if type(list) == 'table' then
            for _, t in ipairs(list) do
              if type(t) == 'string' and not seen[t] then
                seen[t] = true
                found[#found + 1] = t
              end
            end
          end
        end
      end
    end
  end
  return found
end
local function read_all(key, kind)
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do emit(kind, flat[i], flat[i + 1]) end
end

local head = redis.call('HMGET', meta, 'version', 'epoch')
local version = tonumber(head[1] or '0')
local whole = false
local op = ARGV[1]
local args = {}
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end

if op == 'fire' then
  local names = read_index(args[1])
  local configs = read_tasks(names)
  for _, name in ipairs(names) do read_open(name) end
  read_kwargs(triggers_of(configs, names))
elseif op == 'index' then
  read_index(args[1])
elseif op == 'tasks' then
  read_tasks(args)
elseif op == 'instances' then
  read_instances(args)
elseif op == 'open' then
  read_open(args[1])
elseif op == 'kwargs' then
  read_kwargs(args)
elseif op == 'task_instances' then
  local task = args[1]
  local count = tonumber(redis.call('HGET', counts, task) or '0') or 0
  emit('n', task, tostring(count))
  stamps[#stamps + 1] = 'o:' .. task
  local names = {}
  for i = 0, count - 1 do names[#names + 1] = task .. '#' .. i end
  read_instances(names)
elseif op == 'snapshot' then
  whole = true
  read_all(tasks, 't')
  read_all(inst, 'i')
  read_all(kwargs, 'k')
elseif op == 'changes' then
  whole = true
  local members = redis.call('ZRANGEBYSCORE', changes, '(' .. args[1], '+inf')
  local picked = {t = {}, i = {}, k = {}}
  for _, m in ipairs(members) do
    local kind, name = string.sub(m, 1, 1), string.sub(m, 3)
    if picked[kind] then
      local list = picked[kind]
      list[#list + 1] = name
      emit('C', kind, name)
    end
  end
  read_tasks(picked.t)
  read_instances(picked.i)
  read_kwargs(picked.k)
elseif op ~= 'version' then
  return redis.error_reply('unknown read op ' .. tostring(op))
end

local newest = 0
if whole then
  newest = version
elseif #stamps > 0 then
  for _, s in ipairs(chunked('ZMSCORE', changes, stamps)) do
    local n = tonumber(s)
    if n and n > newest then newest = n end
  end
end
local result = {tostring(version), head[2] or '', tostring(newest)}
for i = 1, #out do result[#result + 1] = out[i] end
return result
