/**
 * The Lua scripts of the Redis window state backend. One `EVALSHA` of `WINDOW_APPLY` is the whole
 * atomic step of a batch (see `windowState.ts`). Keys (prefix `P`, a hash-tagged namespace):
 *
 * - `P epoch`: the state's epoch, created by the first worker; missing or changed = state lost;
 * - `P g`: the global watermark (only moves forward); `P wm`: shard → `maxEventTime,activeAt`;
 * - `P pos`: shard → last applied `sequence:subSequence`; `P cw:<shard>`: recent
 *   `sequence:subSequence:watermark` the batches were classified with;
 * - `P open` / `P fin`: zsets of open / final buckets scored by window end; `P b:<bucket>`: hash
 *   field → 88 bytes (ten float64 statistics and the revision, little-endian);
 * - `P dirty`: set of `bucket US field` of open windows changed since the last flush (changes to
 *   final windows are claimed by the batch that makes them); `P c:<shard>:<pos>`: what a
 *   batch emitted (its claim, as the reply's blob), listed in `P claims:<shard>` (the last 32 kept).
 *
 * Numbers cross the boundary as strings (`-inf` for no watermark): Redis truncates Lua numbers.
 * Partials and emissions travel as one binary blob per bucket / per reply: ten thousand separate
 * arguments cost the client more than the script's whole work.
 */

const COMMON = `
local P = ARGV[1]
local SEP = '\\31'
local function num(s) if s == '-inf' then return -math.huge end return tonumber(s) end
local function str(x) if x == -math.huge then return '-inf' end return string.format('%.17g', x) end
local function chunked(cmd, key, list)
  for i = 1, #list, 4000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 3999, #list)))
  end
end
local ends = {}
local function bucketEnd(b)
  local e = ends[b]
  if e == nil then
    local fin = redis.call('ZSCORE', P .. 'fin', b)
    if fin then e = {tonumber(fin), true} else
      local open = redis.call('ZSCORE', P .. 'open', b)
      e = {open and tonumber(open) or false, false}
    end
    ends[b] = e
  end
  return e
end
-- the emission record of one field's stored window (bumping its revision when asked), or nil
local function emission(b, f, bump)
  local e = bucketEnd(b)
  if not e[1] then return nil end
  local key = P .. 'b:' .. b
  local v = redis.call('HGET', key, f)
  if not v then return nil end
  if bump then
    local s = {struct.unpack('<ddddddddddd', v)}
    v = struct.pack('<ddddddddddd', s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11] + 1)
    redis.call('HSET', key, f, v)
  end
  return struct.pack('<H', #b) .. b .. struct.pack('<H', #f) .. f .. struct.pack('<d', e[1]) .. v
    .. (e[2] and '\\1' or '\\0')
end
`;

/** Applies a batch's partials, publishes the shard's watermark, claims due windows (see file comment). */
export const WINDOW_APPLY = `${COMMON}
if redis.call('GET', P .. 'epoch') ~= ARGV[2] then return {'lost'} end
local shard, seq, sub = ARGV[3], ARGV[4], tonumber(ARGV[5])
local classified, batchMax, now = ARGV[6], num(ARGV[7]), tonumber(ARGV[8])
local ooo, lateness, retention, idle = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local flush = ARGV[13] == '1'
local G = num(redis.call('GET', P .. 'g') or '-inf')
local posKey = seq .. ':' .. sub

local applied = redis.call('HGET', P .. 'pos', shard)
if applied then
  local aseq, asub = string.match(applied, '^(%d+):(%d+)$')
  asub = tonumber(asub)
  local after
  if #seq ~= #aseq then after = #seq > #aseq
  elseif seq ~= aseq then after = seq > aseq
  else after = sub > asub end
  if not after then
    local cw = ''
    for _, entry in ipairs(redis.call('LRANGE', P .. 'cw:' .. shard, 0, -1)) do
      local eseq, esub, w = string.match(entry, '^(%d+):(%d+):(.+)$')
      if eseq == seq and tonumber(esub) == sub then cw = w break end
    end
    local claimed = redis.call('GET', P .. 'c:' .. shard .. ':' .. posKey) or ''
    return {'duplicate', str(G), cw, claimed}
  end
end

local nb = tonumber(ARGV[14])
local idx = 15
for _ = 1, nb do
  if tonumber(ARGV[idx + 1]) + retention <= G then return {'stale', str(G)} end
  idx = idx + 4
end

local function merge(a, b)
  local n = a[1] + b[1]
  local delta = b[5] - a[5]
  local mean = a[5] + (delta * b[1]) / n
  local m2 = a[6] + b[6] + (delta * delta * a[1] * b[1]) / n
  local first, firstAt, last, lastAt = a[7], a[8], a[9], a[10]
  if b[8] < a[8] or (b[8] == a[8] and b[7] < a[7]) then first, firstAt = b[7], b[8] end
  if b[10] > a[10] or (b[10] == a[10] and b[9] > a[9]) then last, lastAt = b[9], b[10] end
  local min, max = a[3], a[4]
  if b[3] < min then min = b[3] end
  if b[4] > max then max = b[4] end
  return n, a[2] + b[2], min, max, mean, m2, first, firstAt, last, lastAt
end

idx = 15
local changed, changedFinal = {}, {}
for _ = 1, nb do
  -- a bucket's partials travel as one blob of (u16 name length, name, ten float64s)
  local b, e, n, blob = ARGV[idx], ARGV[idx + 1], tonumber(ARGV[idx + 2]), ARGV[idx + 3]
  idx = idx + 4
  local key = P .. 'b:' .. b
  -- changes to final windows (late records) are emitted at once, open ones on the flush interval
  local changes = changed
  if redis.call('ZSCORE', P .. 'fin', b) then changes = changedFinal
  else redis.call('ZADD', P .. 'open', 'NX', e, b) end
  local at = 1
  for c = 0, n - 1, 2000 do
    local count = math.min(2000, n - c)
    local names, incs = {}, {}
    for i = 1, count do
      local len, p = struct.unpack('<H', blob, at)
      names[i] = string.sub(blob, p, p + len - 1)
      incs[i] = p + len
      at = p + len + 80
    end
    local stored = redis.call('HMGET', key, unpack(names))
    local writes = {}
    for i = 1, count do
      local v = stored[i]
      if v then
        local a = {struct.unpack('<ddddddddddd', v)}
        local p = {struct.unpack('<dddddddddd', blob, incs[i])}
        local n2, sum, min, max, mean, m2, first, firstAt, last, lastAt = merge(a, p)
        v = struct.pack('<ddddddddddd', n2, sum, min, max, mean, m2, first, firstAt, last, lastAt, a[11])
      else
        v = string.sub(blob, incs[i], incs[i] + 79) .. struct.pack('<d', 0)
      end
      writes[#writes + 1] = names[i]
      writes[#writes + 1] = v
      changes[#changes + 1] = b .. SEP .. names[i]
    end
    redis.call('HSET', key, unpack(writes))
  end
end
chunked('SADD', P .. 'dirty', changed)

redis.call('HSET', P .. 'pos', shard, posKey)
local prev = redis.call('HGET', P .. 'wm', shard)
local shardMax = batchMax
if prev then
  local pm = num(string.match(prev, '^([^,]+),'))
  if pm > shardMax then shardMax = pm end
end
redis.call('HSET', P .. 'wm', shard, str(shardMax) .. ',' .. str(now))
redis.call('LPUSH', P .. 'cw:' .. shard, posKey .. ':' .. classified)
redis.call('LTRIM', P .. 'cw:' .. shard, 0, 4095)

local live = nil
local all = redis.call('HGETALL', P .. 'wm')
for i = 2, #all, 2 do
  local m, a = string.match(all[i], '^([^,]+),(.+)$')
  m, a = num(m), tonumber(a)
  if a >= now - idle and m ~= -math.huge then
    local w = m - ooo
    if live == nil or w < live then live = w end
  end
end
if live ~= nil and live > G then
  G = live
  redis.call('SET', P .. 'g', str(G))
end

local out = {}
local items = {}
local seen = {}
if G ~= -math.huge then
  for _, b in ipairs(redis.call('ZRANGEBYSCORE', P .. 'open', '-inf', str(G - lateness))) do
    local e = redis.call('ZSCORE', P .. 'open', b)
    redis.call('ZREM', P .. 'open', b)
    redis.call('ZADD', P .. 'fin', e, b)
    ends[b] = {tonumber(e), true}
    local members = {}
    for _, f in ipairs(redis.call('HKEYS', P .. 'b:' .. b)) do
      local m = b .. SEP .. f
      members[#members + 1] = m
      items[#items + 1] = m
      seen[m] = true
    end
    chunked('SREM', P .. 'dirty', members)
  end
end
for _, m in ipairs(changedFinal) do
  if not seen[m] then
    items[#items + 1] = m
    seen[m] = true
  end
end
if flush then
  for _, m in ipairs(redis.call('SMEMBERS', P .. 'dirty')) do
    if not seen[m] then items[#items + 1] = m end
  end
  redis.call('DEL', P .. 'dirty')
end
for _, m in ipairs(items) do
  local b, f = string.match(m, '^(.-)\\31(.*)$')
  out[#out + 1] = emission(b, f, true)
end
local emitted = table.concat(out)
if #emitted > 0 then
  -- the claim keeps what was emitted, not a reference: the windows may expire before a redelivery
  local claimKey = P .. 'c:' .. shard .. ':' .. posKey
  redis.call('SET', claimKey, emitted)
  redis.call('LPUSH', P .. 'claims:' .. shard, claimKey)
  while redis.call('LLEN', P .. 'claims:' .. shard) > 32 do
    redis.call('DEL', redis.call('RPOP', P .. 'claims:' .. shard))
  end
end
if G ~= -math.huge then
  for _, b in ipairs(redis.call('ZRANGEBYSCORE', P .. 'fin', '-inf', str(G - retention))) do
    redis.call('DEL', P .. 'b:' .. b)
    redis.call('ZREM', P .. 'fin', b)
  end
end
return {'applied', str(G), '', emitted}
`;
