/**
 * The Lua scripts of the Redis window state backend. One `EVALSHA` of `WINDOW_APPLY` is the whole
 * atomic step of a batch, one of `WINDOW_TICK` that of an idle shard (see `windowState.ts`). Keys (prefix `P`, a hash-tagged namespace):
 *
 * - `P epoch`: the state's epoch, created by the first worker; missing or changed = state lost;
 *   `P layout`: the layout of the state (`WINDOW_LAYOUT`), recorded with the epoch;
 * - `P g`: the global watermark (only moves forward); `P wm`: shard → `maxEventTime,activeAt`;
 * - `P pos`: shard → last applied `sequence:subSequence`; `P cw:<shard>`: recent
 *   `sequence:subSequence:watermark` the batches were classified with;
 * - `P open` / `P fin`: zsets of open / final buckets scored by window end;
 * - `P b:<bucket>`: hash of rows (see `windowRows.ts`: a field's row is its name up to its last unit
 *   separator, so one row holds every metric of one key). A row's value is its columns' names, then
 *   per column the float64 statistics (`topology/metricStats.ts`) and the stored revision, then per
 *   column a flag: changed since the last flush. A window turning final claims every column of its
 *   bucket at once: that claim is not written to each column, so the revision of a column of a final
 *   bucket is its stored revision + 1 (a column created in a bucket already final is stored at −1);
 * - `P dirty`: set of open buckets changed since the last flush, `P d:<bucket>`: set of that bucket's
 *   rows with changed columns (changes to final windows are claimed by the batch that makes them);
 *   `P flushing` / `P f:<bucket>`: the same for the rows a flush round took and has not claimed yet
 *   (a round of a flush prefix takes its d: sets when none of its buckets is flushing);
 * - `P c:<shard>:<pos>`: what a batch emitted (its claim, as the reply's blob), listed in
 *   `P claims:<shard>` (the last 32 kept);
 * - `P tp:<shard>`: the finals the shard's ticks claimed and that are not surely delivered yet
 *   (`out`, an emission blob) and the tick that left them (`tag`, `session:sequence`).
 *
 * Numbers cross the boundary as strings (`-inf` for no watermark): Redis truncates Lua numbers.
 * Partials and emissions travel as one binary blob per bucket / per reply. A batch's work is
 * proportional to its rows and to what it emits: a partial row new to its bucket is stored as sent
 * (no unpacking), a row whose columns match the stored ones merges column by column in one unpack
 * and one pack, due windows are found through the zsets by end, flushes through the dirty sets, and
 * rows are read and written in chunks of one `HMGET` / `HSET`.
 *
 * Partials blob of a bucket: per row u16 name length, name, u32 row length, row (revisions 0, every
 * flag 1). Emission blob, per bucket: u16 name length, name, f64 window end, u8 final, u8 every
 * column (a window turning final) or only the flagged ones, u32 row count, then per row u16 name
 * length, name, u32 row length, row (the reader adds 1 to the revision when the bucket is final).
 */
import { STAT, STATS_STRIDE } from '../topology/index.ts';
import { COLUMN_BYTES, REVISION_SLOT, STORED_BYTES, STORED_SLOTS } from './windowRows.ts';

// The row form's numbers and the statistics' slots are written into the scripts' source from their
// definitions (`windowRows.ts`, `topology/metricStats.ts`): Lua reads them as literals, as it did
// when they were typed in by hand, and they cannot drift apart.
const S = STAT;
const LAST_STAT = STATS_STRIDE - 1;

const COMMON = `
local P = ARGV[1]
local function num(s) if s == '-inf' then return -math.huge end return tonumber(s) end
local function str(x) if x == -math.huge then return '-inf' end return string.format('%.17g', x) end
-- struct formats of n float64s and strings of n flags, built once per n
local FMT = setmetatable({}, {__index = function(t, n)
  local s = '<' .. string.rep('d', n)
  t[n] = s
  return s
end})
local ZEROS = setmetatable({}, {__index = function(t, n)
  local s = string.rep('\\0', n)
  t[n] = s
  return s
end})
local ONES = setmetatable({}, {__index = function(t, n)
  local s = string.rep('\\1', n)
  t[n] = s
  return s
end})
-- a row: u16 header length h, header (per column u16 name length, name), n x ${STORED_BYTES} bytes, n flags
local function shape(v)
  local h = struct.unpack('<H', v)
  return h, (#v - 2 - h) / ${COLUMN_BYTES}
end
local function columnNames(v, h)
  local list, at, stop = {}, 3, 2 + h
  while at <= stop do
    local len = struct.unpack('<H', v, at)
    list[#list + 1] = string.sub(v, at + 2, at + 1 + len)
    at = at + 2 + len
  end
  return list
end
-- a row's statistics as a table of ${STORED_SLOTS} n numbers, and back (in chunks: Lua's C stack holds 8,000 values)
local function unpackStats(v, at, n)
  if n <= 100 then return {struct.unpack(FMT[${STORED_SLOTS} * n], v, at)} end
  local t = {}
  for c = 0, n - 1, 100 do
    local m = math.min(100, n - c)
    local part = {struct.unpack(FMT[${STORED_SLOTS} * m], v, at + ${STORED_BYTES} * c)}
    for k = 1, ${STORED_SLOTS} * m do t[${STORED_SLOTS} * c + k] = part[k] end
  end
  return t
end
local function packStats(a, n)
  if n <= 100 then return struct.pack(FMT[${STORED_SLOTS} * n], unpack(a, 1, ${STORED_SLOTS} * n)) end
  local parts = {}
  for c = 0, n - 1, 100 do
    local m = math.min(100, n - c)
    parts[#parts + 1] = struct.pack(FMT[${STORED_SLOTS} * m], unpack(a, ${STORED_SLOTS} * c + 1, ${STORED_SLOTS} * (c + m)))
  end
  return table.concat(parts)
end
-- a list of 0 / 1 as flag bytes
local function flagBytes(list)
  local parts = {}
  for i = 1, #list do parts[i] = list[i] == 1 and '\\1' or '\\0' end
  return table.concat(parts)
end
-- appends a row's emission record to out in pieces (the row is its statistics, then tail), so a
-- stored row is copied once, by the final table.concat
local function record(out, name, row, tail)
  local n = #out
  out[n + 1] = struct.pack('<H', #name)
  out[n + 2] = name
  out[n + 3] = struct.pack('<I4', #row + #tail)
  out[n + 4] = row
  out[n + 5] = tail
end
-- bumps the revisions of the columns flagged in a row (flags: nil = the row's own flags), appends
-- its emission record (flags = the columns emitted) to out; returns the row to store (flags cleared)
local function bumpRow(out, name, v, flags)
  local h, n = shape(v)
  local statsAt = 3 + h
  local flagsAt = statsAt + ${STORED_BYTES} * n
  flags = flags or string.sub(v, flagsAt, flagsAt + n - 1)
  local a = unpackStats(v, statsAt, n)
  for i = 1, n do
    if string.byte(flags, i) == 1 then a[${STORED_SLOTS} * i] = a[${STORED_SLOTS} * i] + 1 end
  end
  local kept = string.sub(v, 1, 2 + h) .. packStats(a, n)
  record(out, name, kept, flags)
  return kept .. ZEROS[n]
end
-- a bucket's emission header, written into the slot reserved before its rows
local function bucketHeader(b, e, final, every, count)
  return struct.pack('<H', #b) .. b .. struct.pack('<d', e) .. (final and '\\1' or '\\0')
    .. (every and '\\1' or '\\0') .. struct.pack('<I4', count)
end
-- whether position (s1, b1) is after (s2, b2): decimal strings by length, then text; then sub-sequence
local function after(s1, b1, s2, b2)
  if #s1 ~= #s2 then return #s1 > #s2 end
  if s1 ~= s2 then return s1 > s2 end
  return b1 > b2
end
-- claims the given rows of a bucket: flags = function(name, row) -> the columns to claim (nil: the
-- row's own flags); bumps their revisions and appends the bucket's record to out
local function claimRows(out, b, e, final, names, flagsOf)
  local key = P .. 'b:' .. b
  local slot, count = #out + 1, 0
  out[slot] = ''
  for c = 1, #names, 1000 do
    local chunk = {unpack(names, c, math.min(c + 999, #names))}
    local values = redis.call('HMGET', key, unpack(chunk))
    local writes = {}
    for i = 1, #chunk do
      local v = values[i]
      if v then
        writes[#writes + 1] = chunk[i]
        writes[#writes + 1] = bumpRow(out, chunk[i], v, flagsOf(chunk[i], v))
        count = count + 1
      end
    end
    if #writes > 0 then redis.call('HSET', key, unpack(writes)) end
  end
  if count > 0 then out[slot] = bucketHeader(b, e, final, false, count) end
end
-- moves the global watermark G to the minimum over shards active within the idle timeout
local function advance(G, now, ooo, idle)
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
    redis.call('SET', P .. 'g', str(live))
    return live
  end
  return G
end
-- claims the open windows whose end + lateness G passed: every column, and the +1 of each is
-- implied by the bucket being final (no write)
local function claimDue(out, G, lateness)
  if G == -math.huge then return end
  local due = redis.call('ZRANGEBYSCORE', P .. 'open', '-inf', str(G - lateness), 'WITHSCORES')
  for i = 1, #due, 2 do
    local b, e = due[i], due[i + 1]
    redis.call('ZREM', P .. 'open', b)
    redis.call('ZADD', P .. 'fin', e, b)
    redis.call('SREM', P .. 'dirty', b)
    redis.call('DEL', P .. 'd:' .. b)
    redis.call('SREM', P .. 'flushing', b)
    redis.call('DEL', P .. 'f:' .. b)
    local rows = redis.call('HGETALL', P .. 'b:' .. b)
    if #rows > 0 then
      out[#out + 1] = bucketHeader(b, tonumber(e), true, true, #rows / 2)
      for r = 1, #rows, 2 do record(out, rows[r], rows[r + 1], '') end
    end
  end
end
-- the flush argument: nil (none), true (all) or a list of bucket id prefixes (see flushArgument)
local function flushSelection(s)
  if s == '0' then return nil end
  if s == '1' then return true end
  local prefixes = {}
  for p in string.gmatch(string.sub(s, 2), '[^\\n]+') do prefixes[#prefixes + 1] = p end
  return prefixes
end
-- claims the open windows changed since the last flush (running values) of the selected buckets (a
-- list's prefixes in its order), at most limit rows; returns '0' when none of the selection are left,
-- else '+' and the first prefix with changed rows left for later calls ('' for a selection of all).
-- A prefix flushes in rounds: with none of its buckets flushing, a round takes the rows changed so
-- far (d: sets become f: sets), and rows changed meanwhile wait for the next round
local function claimDirty(out, selection, limit)
  if selection == nil then return '0' end
  local own = function() return nil end
  local left = limit
  local flushing = redis.call('SMEMBERS', P .. 'flushing')
  local dirty
  for _, p in ipairs(selection == true and {''} or selection) do
    local round = {}
    for _, b in ipairs(flushing) do
      if string.sub(b, 1, #p) == p then round[#round + 1] = b end
    end
    if #round == 0 then
      dirty = dirty or redis.call('SMEMBERS', P .. 'dirty')
      for _, b in ipairs(dirty) do
        if string.sub(b, 1, #p) == p and redis.call('SREM', P .. 'dirty', b) == 1 then
          local d, f = P .. 'd:' .. b, P .. 'f:' .. b
          if redis.call('EXISTS', d) == 1 then
            if redis.call('EXISTS', f) == 1 then
              redis.call('SUNIONSTORE', f, f, d)
              redis.call('DEL', d)
            else
              redis.call('RENAME', d, f)
            end
          end
          redis.call('SADD', P .. 'flushing', b)
          round[#round + 1] = b
        end
      end
    end
    for _, b in ipairs(round) do
      local f = P .. 'f:' .. b
      if redis.call('SCARD', f) > 0 then
        if left <= 0 then return '+' .. p end
        local e = redis.call('ZSCORE', P .. 'open', b)
        if redis.call('SCARD', f) > left then
          claimRows(out, b, tonumber(e), false, redis.call('SPOP', f, left), own)
          return '+' .. p
        end
        local rows = redis.call('SMEMBERS', f)
        redis.call('DEL', f)
        claimRows(out, b, tonumber(e), false, rows, own)
        left = left - #rows
      end
      redis.call('SREM', P .. 'flushing', b)
    end
  end
  return '0'
end
-- deletes final windows past retention
local function expire(G, retention)
  if G == -math.huge then return end
  for _, b in ipairs(redis.call('ZRANGEBYSCORE', P .. 'fin', '-inf', str(G - retention))) do
    redis.call('DEL', P .. 'b:' .. b)
    redis.call('ZREM', P .. 'fin', b)
  end
end
-- what the applied batches covering positions [first, up] of a shard recorded: their
-- classification watermarks ('seq:sub:w' joined by ',', ascending) and their claims (oldest first)
local function recorded(shard, fseq, fsub, useq, usub)
  local picked = {}
  for _, entry in ipairs(redis.call('LRANGE', P .. 'cw:' .. shard, 0, -1)) do
    local eseq, esub, w = string.match(entry, '^(%d+):(%d+):(.+)$')
    esub = tonumber(esub)
    if after(fseq, fsub, eseq, esub) then break end
    picked[#picked + 1] = {eseq, esub, w}
  end
  local cover = 0
  for i = 1, #picked do
    if not after(useq, usub, picked[i][1], picked[i][2]) then cover = i end
  end
  local lseq, lsub = useq, usub
  if cover > 0 then lseq, lsub = picked[cover][1], picked[cover][2] else cover = 1 end
  local cw = {}
  for i = #picked, cover, -1 do cw[#cw + 1] = picked[i][1] .. ':' .. picked[i][2] .. ':' .. picked[i][3] end
  local pre = P .. 'c:' .. shard .. ':'
  local keys = redis.call('LRANGE', P .. 'claims:' .. shard, 0, -1)
  local claimed = {}
  for i = #keys, 1, -1 do
    local cseq, csub = string.match(string.sub(keys[i], #pre + 1), '^(%d+):(%d+)$')
    csub = tonumber(csub)
    if cseq and not after(fseq, fsub, cseq, csub) and not after(cseq, csub, lseq, lsub) then
      claimed[#claimed + 1] = redis.call('GET', keys[i]) or ''
    end
  end
  return table.concat(cw, ','), table.concat(claimed)
end
`;

/** The layout this script reads and writes, recorded beside the epoch by the worker that creates it. */
export const WINDOW_LAYOUT = 'rows-1';

/**
 * Joins the state's epoch, creating it (and recording the layout) when missing: ARGV prefix, a new
 * epoch, the layout; returns the epoch and the recorded layout ('' for state older than the record).
 */
export const WINDOW_JOIN = `
local P = ARGV[1]
if redis.call('EXISTS', P .. 'epoch') == 0 then
  redis.call('SET', P .. 'epoch', ARGV[2])
  redis.call('SET', P .. 'layout', ARGV[3])
end
return {redis.call('GET', P .. 'epoch'), redis.call('GET', P .. 'layout') or ''}
`;

/**
 * A held shard's poll: marks the shard active, recomputes the global watermark (`advance`) and returns
 * it. ARGV prefix, epoch, shard, now, out-of-orderness, idle timeout.
 */
export const WINDOW_GLOBAL = `${COMMON}
if redis.call('GET', P .. 'epoch') ~= ARGV[2] then return {'lost'} end
local shard, now = ARGV[3], tonumber(ARGV[4])
local published = redis.call('HGET', P .. 'wm', shard)
if published then
  redis.call('HSET', P .. 'wm', shard, string.match(published, '^([^,]+),') .. ',' .. ARGV[4])
end
return {str(advance(num(redis.call('GET', P .. 'g') or '-inf'), now, tonumber(ARGV[5]), tonumber(ARGV[6])))}
`;

/** Applies a batch's partials, publishes the shard's watermark, claims due windows (see file comment). */
export const WINDOW_APPLY = `${COMMON}
if redis.call('GET', P .. 'epoch') ~= ARGV[2] then return {'lost'} end
local shard, seq, sub = ARGV[3], ARGV[4], tonumber(ARGV[5])
local classified, batchMax, now = ARGV[6], num(ARGV[7]), tonumber(ARGV[8])
local ooo, lateness, retention, idle = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local flush = flushSelection(ARGV[13])
local fseq, fsub = ARGV[14], tonumber(ARGV[15])
local G = num(redis.call('GET', P .. 'g') or '-inf')
local posKey = seq .. ':' .. sub

local applied = redis.call('HGET', P .. 'pos', shard)
if applied then
  local aseq, asub = string.match(applied, '^(%d+):(%d+)$')
  asub = tonumber(asub)
  if not after(seq, sub, aseq, asub) then
    local cw, claimed = recorded(shard, fseq, fsub, seq, sub)
    return {'duplicate', str(G), cw, claimed}
  end
  if not after(fseq, fsub, aseq, asub) then
    local cw, claimed = recorded(shard, fseq, fsub, aseq, asub)
    return {'overlap', str(G), cw, claimed, applied}
  end
end

local nb = tonumber(ARGV[16])
local flushLimit = tonumber(ARGV[17])
local FIRST = 18
local idx = FIRST
for _ = 1, nb do
  if tonumber(ARGV[idx + 1]) + retention <= G then return {'stale', str(G)} end
  idx = idx + 3
end

-- merges the statistics at b[j..j+${LAST_STAT}] into a[i..i+${LAST_STAT}] (mergeSlots's arithmetic, in its order)
local function merge(a, i, b, j)
  local ac, bc = a[i + ${S.count}], b[j + ${S.count}]
  if bc == 0 then return end
  if ac == 0 then
    for k = 0, ${LAST_STAT} do a[i + k] = b[j + k] end
    return
  end
  local n = ac + bc
  local delta = b[j + ${S.mean}] - a[i + ${S.mean}]
  a[i + ${S.mean}] = a[i + ${S.mean}] + (delta * bc) / n
  a[i + ${S.m2}] = a[i + ${S.m2}] + b[j + ${S.m2}] + (delta * delta * ac * bc) / n
  a[i + ${S.count}] = n
  a[i + ${S.sum}] = a[i + ${S.sum}] + b[j + ${S.sum}]
  if b[j + ${S.min}] < a[i + ${S.min}] then a[i + ${S.min}] = b[j + ${S.min}] end
  if b[j + ${S.max}] > a[i + ${S.max}] then a[i + ${S.max}] = b[j + ${S.max}] end
  if b[j + ${S.firstAt}] < a[i + ${S.firstAt}] or (b[j + ${S.firstAt}] == a[i + ${S.firstAt}] and b[j + ${S.first}] < a[i + ${S.first}]) then
    a[i + ${S.first}], a[i + ${S.firstAt}] = b[j + ${S.first}], b[j + ${S.firstAt}]
  end
  if b[j + ${S.lastAt}] > a[i + ${S.lastAt}] or (b[j + ${S.lastAt}] == a[i + ${S.lastAt}] and b[j + ${S.last}] > a[i + ${S.last}]) then
    a[i + ${S.last}], a[i + ${S.lastAt}] = b[j + ${S.last}], b[j + ${S.lastAt}]
  end
end

-- merges partial row p into stored row v (nil: none yet); returns the row to store and the stored
-- indices of the columns p changed (nil when p's columns are the stored ones, in order)
local function mergeRow(v, p, final)
  local hp, np = shape(p)
  if v == nil and not final then return p, nil end
  local b = unpackStats(p, 3 + hp, np)
  if v == nil then
    -- a row new to a final bucket: its columns start at revision -1 (the bucket's +1 makes 0)
    for j = 1, np do b[${STORED_SLOTS} * j] = -1 end
    return string.sub(p, 1, 2 + hp) .. packStats(b, np) .. ZEROS[np], nil
  end
  local hv, nv = shape(v)
  local a = unpackStats(v, 3 + hv, nv)
  local header = string.sub(v, 1, 2 + hv)
  if hv == hp and header == string.sub(p, 1, 2 + hp) then
    for j = 0, np - 1 do merge(a, ${STORED_SLOTS} * j + 1, b, ${STORED_SLOTS} * j + 1) end
    return header .. packStats(a, nv) .. (final and ZEROS[nv] or ONES[nv]), nil
  end
  -- columns differ: match them by name, append the new ones
  local stored = columnNames(v, hv)
  local at = {}
  for i, name in ipairs(stored) do at[name] = i end
  local fl = {}
  for i = 1, nv do fl[i] = final and 0 or string.byte(v, 2 + hv + ${STORED_BYTES} * nv + i) end
  local changed, added = {}, {}
  for j, name in ipairs(columnNames(p, hp)) do
    local i = at[name]
    local bj = ${STORED_SLOTS} * (j - 1) + 1
    if i == nil then
      nv = nv + 1
      i = nv
      at[name] = i
      added[#added + 1] = struct.pack('<H', #name) .. name
      local ai = ${STORED_SLOTS} * (i - 1) + 1
      for k = 0, ${LAST_STAT} do a[ai + k] = b[bj + k] end
      a[ai + ${REVISION_SLOT}] = final and -1 or 0
    else
      merge(a, ${STORED_SLOTS} * (i - 1) + 1, b, bj)
    end
    fl[i] = final and 0 or 1
    changed[#changed + 1] = i
  end
  local names = string.sub(header, 3) .. table.concat(added)
  return struct.pack('<H', #names) .. names .. packStats(a, nv) .. flagBytes(fl), changed
end

idx = FIRST
-- changes to final windows (late records) are emitted at once, open ones on the flush interval
local changedFinal, finalOrder = {}, {}
for _ = 1, nb do
  local b, e, blob = ARGV[idx], ARGV[idx + 1], ARGV[idx + 2]
  idx = idx + 3
  local key = P .. 'b:' .. b
  local fin = redis.call('ZSCORE', P .. 'fin', b)
  local changes, fresh
  if fin then
    changes = changedFinal[b]
    if changes == nil then
      changes = {e = tonumber(fin), rows = {}, columns = {}}
      changedFinal[b] = changes
      finalOrder[#finalOrder + 1] = b
    end
  else
    -- a bucket new to the open zset has no stored rows (expired ones are refused as stale)
    fresh = redis.call('ZADD', P .. 'open', 'NX', e, b) == 1
    redis.call('SADD', P .. 'dirty', b)
  end
  local at, size = 1, #blob
  while at <= size do
    local names, rows = {}, {}
    while at <= size and #names < 1000 do
      local len = struct.unpack('<H', blob, at)
      local rowLen = struct.unpack('<I4', blob, at + 2 + len)
      names[#names + 1] = string.sub(blob, at + 2, at + 1 + len)
      rows[#rows + 1] = string.sub(blob, at + 6 + len, at + 5 + len + rowLen)
      at = at + 6 + len + rowLen
    end
    local stored = fresh and {} or redis.call('HMGET', key, unpack(names))
    local writes = {}
    for i = 1, #names do
      local v, columns = mergeRow(stored[i] or nil, rows[i], changes ~= nil)
      writes[2 * i - 1] = names[i]
      writes[2 * i] = v
      if changes then
        -- which columns to claim: every column of the partial, by stored index
        local name = names[i]
        local set = changes.columns[name]
        if set == nil then
          set = {}
          changes.columns[name] = set
          changes.rows[#changes.rows + 1] = name
        end
        if columns == nil then
          local _, np = shape(rows[i])
          for c = 1, np do set[c] = true end
        else
          for _, c in ipairs(columns) do set[c] = true end
        end
      end
    end
    redis.call('HSET', key, unpack(writes))
    if not changes then redis.call('SADD', P .. 'd:' .. b, unpack(names)) end
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

G = advance(G, now, ooo, idle)

local out = {}
-- a bucket turning final here was open during the merge: its changes are in the dirty sets, not in
-- changedFinal, so no column is claimed twice
for _, b in ipairs(finalOrder) do
  local changes = changedFinal[b]
  claimRows(out, b, changes.e, true, changes.rows, function(name, v)
    local _, n = shape(v)
    local set, fl = changes.columns[name], {}
    for i = 1, n do fl[i] = set[i] and 1 or 0 end
    return flagBytes(fl)
  end)
end
claimDue(out, G, lateness)
local more = claimDirty(out, flush, flushLimit)
-- the finals of the shard's last ticks: this batch's claim keeps them from now on
local ticked = redis.call('HGET', P .. 'tp:' .. shard, 'out')
if ticked then
  out[#out + 1] = ticked
  redis.call('DEL', P .. 'tp:' .. shard)
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
expire(G, retention)
return {'applied', str(G), '', emitted, more}
`;

/**
 * A tick of an idle shard (see `WindowStateBackend.tick`): ARGV prefix, epoch, shard, now,
 * out-of-orderness, lateness, retention, idle timeout, flush, session, sequence, flush limit. Moves no position and
 * no activity; the finals it claims stay pending in `P tp:<shard>` (`tag` = session:sequence, `out`).
 */
export const WINDOW_TICK = `${COMMON}
if redis.call('GET', P .. 'epoch') ~= ARGV[2] then return {'lost'} end
local shard, now = ARGV[3], tonumber(ARGV[4])
local ooo, lateness, retention, idle = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local flush = flushSelection(ARGV[9])
local session, sequence, flushLimit = ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[12])
local G = advance(num(redis.call('GET', P .. 'g') or '-inf'), now, ooo, idle)
local finals = {}
claimDue(finals, G, lateness)
local tp = P .. 'tp:' .. shard
local before = redis.call('HMGET', tp, 'tag', 'out')
-- the previous tick of this session is delivered: only the new finals stay pending; otherwise the
-- earlier ones are returned again and stay too
local kept = table.concat(finals)
if before[2] and before[1] ~= session .. ':' .. (sequence - 1) then kept = before[2] .. kept end
if #kept > 0 then
  redis.call('HSET', tp, 'tag', session .. ':' .. sequence, 'out', kept)
else
  redis.call('DEL', tp)
end
local flushed = {}
local more = claimDirty(flushed, flush, flushLimit)
expire(G, retention)
return {str(G), kept .. table.concat(flushed), more}
`;
