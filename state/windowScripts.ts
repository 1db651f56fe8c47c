/**
 * The Lua scripts of the Redis window state backend. One `EVALSHA` of `WINDOW_APPLY` is the whole
 * atomic step of a batch (see `windowState.ts`). Keys (prefix `P`, a hash-tagged namespace):
 *
 * - `P epoch`: the state's epoch, created by the first worker; missing or changed = state lost;
 * - `P g`: the global watermark (only moves forward); `P wm`: shard → `maxEventTime,activeAt`;
 * - `P pos`: shard → last applied `sequence:subSequence`; `P cw:<shard>`: recent
 *   `sequence:subSequence:watermark` the batches were classified with;
 * - `P open` / `P fin`: zsets of open / final buckets scored by window end; `P b:<bucket>`: hash
 *   field → 88 bytes (ten float64 statistics and the stored revision, little-endian). A window
 *   turning final claims every field of its bucket at once: that claim is not written to each
 *   field, so the revision of a field of a final bucket is its stored revision + 1 (a field created
 *   in a bucket already final is stored at −1);
 * - `P dirty`: set of open buckets changed since the last flush, `P d:<bucket>`: set of that
 *   bucket's changed fields (changes to final windows are claimed by the batch that makes them);
 * - `P c:<shard>:<pos>`: what a batch emitted (its claim, as the reply's blob), listed in
 *   `P claims:<shard>` (the last 32 kept).
 *
 * Numbers cross the boundary as strings (`-inf` for no watermark): Redis truncates Lua numbers.
 * Partials and emissions travel as one binary blob per bucket / per reply: ten thousand separate
 * arguments cost the client more than the script's whole work. A batch's work is proportional to its
 * partials and to what it emits: due windows are found through the zsets by end, flushes through
 * the dirty sets, and stored fields are read and written in chunks of one `HMGET` / `HSET`.
 *
 * Partials blob: n × (ten float64s, revision 0.0), then n × (u16 name length, name). Emission blob, per bucket:
 * u16 name length, name, f64 window end, u8 final, u32 field count, then per field (u16 name length,
 * name, 88-byte stored window: the reader adds 1 to the revision when the bucket is final).
 */

const COMMON = `
local P = ARGV[1]
local function num(s) if s == '-inf' then return -math.huge end return tonumber(s) end
local function str(x) if x == -math.huge then return '-inf' end return string.format('%.17g', x) end
local MINUS_ONE = struct.pack('<d', -1)
-- u16 length prefixes, packed once per length
local LEN = setmetatable({}, {__index = function(t, n)
  local s = struct.pack('<H', n)
  t[n] = s
  return s
end})
-- claims fields of one bucket: bumps their revisions and appends the bucket's emission record to
-- out; names lists the fields, or is nil for every field (a window turning final)
local function emitBucket(out, b, e, final, names)
  local key = P .. 'b:' .. b
  local parts, count = {}, 0
  local function emitChunk(fields, values)
    local writes = {}
    for i = 1, #fields do
      local v = values[i]
      if v then
        local f = fields[i]
        v = string.sub(v, 1, 80) .. struct.pack('<d', struct.unpack('<d', v, 81) + 1)
        writes[#writes + 1] = f
        writes[#writes + 1] = v
        count = count + 1
        parts[count] = LEN[#f] .. f .. v
      end
    end
    if #writes > 0 then redis.call('HSET', key, unpack(writes)) end
  end
  if names == nil then
    -- turning final: the +1 of every field is implied by the bucket being final (no write)
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local f = all[i]
      count = count + 1
      parts[count] = LEN[#f] .. f .. all[i + 1]
    end
  else
    for c = 1, #names, 2000 do
      local fields = {unpack(names, c, math.min(c + 1999, #names))}
      emitChunk(fields, redis.call('HMGET', key, unpack(fields)))
    end
  end
  if count > 0 then
    out[#out + 1] = struct.pack('<H', #b) .. b .. struct.pack('<d', e) .. (final and '\\1' or '\\0')
      .. struct.pack('<I4', count) .. table.concat(parts)
  end
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
-- changes to final windows (late records) are emitted at once, open ones on the flush interval
local changedFinal, finalOrder = {}, {}
for _ = 1, nb do
  local b, e, n, blob = ARGV[idx], ARGV[idx + 1], tonumber(ARGV[idx + 2]), ARGV[idx + 3]
  idx = idx + 4
  local key = P .. 'b:' .. b
  local fin = redis.call('ZSCORE', P .. 'fin', b)
  local changes, fresh
  if fin then
    changes = changedFinal[b]
    if changes == nil then
      changes = {e = tonumber(fin), names = {}, seen = {}}
      changedFinal[b] = changes
      finalOrder[#finalOrder + 1] = b
    end
  else
    -- a bucket new to the open zset has no stored fields (expired ones are refused as stale)
    fresh = redis.call('ZADD', P .. 'open', 'NX', e, b) == 1
    redis.call('SADD', P .. 'dirty', b)
  end
  local at = n * 88 + 1
  for c = 0, n - 1, 2000 do
    local count = math.min(2000, n - c)
    local names = {}
    for i = 1, count do
      local len = struct.unpack('<H', blob, at)
      names[i] = string.sub(blob, at + 2, at + 1 + len)
      at = at + 2 + len
    end
    local stored = fresh and {} or redis.call('HMGET', key, unpack(names))
    local writes = {}
    for i = 1, count do
      local v = stored[i]
      local from = (c + i - 1) * 88 + 1
      if v then
        local a = {struct.unpack('<ddddddddddd', v)}
        local p = {struct.unpack('<dddddddddd', blob, from)}
        local n2, sum, min, max, mean, m2, first, firstAt, last, lastAt = merge(a, p)
        v = struct.pack('<ddddddddddd', n2, sum, min, max, mean, m2, first, firstAt, last, lastAt, a[11])
      else
        -- the partial's record carries revision 0; a field new to a final bucket starts at -1
        if changes then v = string.sub(blob, from, from + 79) .. MINUS_ONE
        else v = string.sub(blob, from, from + 87) end
      end
      writes[2 * i - 1] = names[i]
      writes[2 * i] = v
    end
    redis.call('HSET', key, unpack(writes))
    if changes then
      for i = 1, count do
        if not changes.seen[names[i]] then
          changes.seen[names[i]] = true
          changes.names[#changes.names + 1] = names[i]
        end
      end
    else
      redis.call('SADD', P .. 'd:' .. b, unpack(names))
    end
  end
end

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
-- a bucket turning final here was open during the merge: its changes are in the dirty sets, not in
-- changedFinal, so no field is claimed twice
for _, b in ipairs(finalOrder) do
  emitBucket(out, b, changedFinal[b].e, true, changedFinal[b].names)
end
if G ~= -math.huge then
  local due = redis.call('ZRANGEBYSCORE', P .. 'open', '-inf', str(G - lateness), 'WITHSCORES')
  for i = 1, #due, 2 do
    local b, e = due[i], due[i + 1]
    redis.call('ZREM', P .. 'open', b)
    redis.call('ZADD', P .. 'fin', e, b)
    redis.call('SREM', P .. 'dirty', b)
    redis.call('DEL', P .. 'd:' .. b)
    emitBucket(out, b, tonumber(e), true, nil)
  end
end
if flush then
  for _, b in ipairs(redis.call('SMEMBERS', P .. 'dirty')) do
    local e = redis.call('ZSCORE', P .. 'open', b)
    emitBucket(out, b, tonumber(e), false, redis.call('SMEMBERS', P .. 'd:' .. b))
    redis.call('DEL', P .. 'd:' .. b)
  end
  redis.call('DEL', P .. 'dirty')
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
