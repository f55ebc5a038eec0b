-- Shared by both scripts: the session keys and chunked multi-gets
-- (Lua's unpack() overflows past a few thousand values).
local meta, tasks, index, inst = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local status, open, counts, kwargs = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local changes, done = KEYS[9], KEYS[10]
local function chunked(command, key, names)
  local values = {}
  for first = 1, #names, 500 do
    local last = math.min(first + 499, #names)
    local part = redis.call(command, key, unpack(names, first, last))
    for i = 1, #part do values[first + i - 1] = part[i] end
  end
  return values
end
