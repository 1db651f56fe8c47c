/**
 * The Lua scripts of the Redis keyed state store and its key layout. Keys (prefix `P` =
 * `sf:{<namespace>}:ks:`, hash-tagged, so every key of a namespace is in one cluster slot; the
 * scripts name their keys in KEYS):
 *
 * - `P epoch`: the store's epoch, created by the first worker to open; missing or changed = state lost;
 * - `P e:<shard>`: hash, entry key → value bytes;
 * - `P m:<shard>`: hash, the shard's meta: `seq` and `sub` (its position; absent after a reset to the
 *   stream's start), `owner` (the token of the last claim; absent after a reset), `v` (the snapshot's
 *   version: one more at every applied write and every reset). `v` is what marks that the shard has a
 *   snapshot at all: a shard reset to the stream's start has no position, no owner and no entries, and
 *   still has a snapshot (the empty one). A shard only claimed has an owner and no `v`.
 *
 * Every script first compares `P epoch` with the epoch the worker joined and answers `lost` when they
 * differ, and none fails after its first write: the arguments are checked before anything is written,
 * and Redis refuses a script's write for lack of memory only at its first write. So a script applies
 * whole or not at all, and a command cut off by a dropped connection is never run.
 *
 * A write's entries travel in blobs of at most `BLOB_ENTRIES` entries (`writeArgs.ts`), so a command's
 * argument count stays small whatever the snapshot's size: upserts as u32 n, n × (u32 key length,
 * u32 value length), then each key followed by its value; deletes as u32 n, n × u32 key length, then
 * the keys.
 */

/** Entries per blob: the script unpacks a blob's lengths in one call, within Lua's 8,000 C stack slots. */
export const BLOB_ENTRIES = 1000;

/** Joins the epoch, creating it when missing. KEYS epoch; ARGV a new epoch. Returns the epoch. */
export const KEYED_JOIN = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('GET', KEYS[1])
`;

/**
 * Opens a shard's snapshot, claiming it when an owner is given. KEYS epoch, meta, entries; ARGV epoch,
 * owner ('' to read without claiming), the most entries to return inline. Returns `{'lost'}`,
 * `{'none'}`, `{'all', v, seq, sub, key, value, …}` or, for a larger shard (the caller then scans the
 * entries), `{'scan', v, seq, sub}`; seq and sub are '' without a position.
 */
export const KEYED_OPEN = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lost'} end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], 'owner', ARGV[2]) end
local meta = redis.call('HMGET', KEYS[2], 'v', 'seq', 'sub')
if not meta[1] then return {'none'} end
local head = {meta[1], meta[2] or '', meta[3] or ''}
if redis.call('HLEN', KEYS[3]) > tonumber(ARGV[3]) then return {'scan', head[1], head[2], head[3]} end
local reply = {'all', head[1], head[2], head[3]}
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all do reply[4 + i] = all[i] end
return reply
`;

/** After a scan: KEYS epoch, meta; ARGV epoch. Returns `{'lost'}` or `{'ok', owner, v}` ('' when absent). */
export const KEYED_CHECK = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lost'} end
local meta = redis.call('HMGET', KEYS[2], 'owner', 'v')
return {'ok', meta[1] or '', meta[2] or ''}
`;

/**
 * A snapshot. KEYS epoch, meta, entries; ARGV epoch, owner, seq, sub, the number of upsert blobs, then
 * the upsert blobs and the delete blobs. Returns 'lost', 'fenced' (another owner, or none), 'stale'
 * (the position is below the stored one: nothing changes), 'malformed' (nothing changes) or
 * 'written'. Upserts are applied before deletes: a key in both is deleted.
 */
export const KEYED_WRITE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
local meta = redis.call('HMGET', KEYS[2], 'owner', 'seq', 'sub', 'v')
if meta[1] ~= ARGV[2] then return 'fenced' end
-- the Lua form of topology's comparePositions: decimal strings by length, then text; then sub-sequence
local function before(s1, b1, s2, b2)
  if #s1 ~= #s2 then return #s1 < #s2 end
  if s1 ~= s2 then return s1 < s2 end
  return b1 < b2
end
if meta[2] and before(ARGV[3], tonumber(ARGV[4]), meta[2], tonumber(meta[3])) then return 'stale' end

local upsertBlobs = tonumber(ARGV[5])
-- every blob's lengths, checked against its size before anything is written
local FMT = setmetatable({}, {__index = function(t, k)
  local f = '<' .. string.rep('I4', k)
  t[k] = f
  return f
end})
local lengths, counts = {}, {}
for b = 6, #ARGV do
  local blob = ARGV[b]
  if #blob < 4 then return 'malformed' end
  local n = struct.unpack('<I4', blob)
  local per = b < 6 + upsertBlobs and 2 or 1
  if n > ${BLOB_ENTRIES} or #blob < 4 + 4 * per * n then return 'malformed' end
  -- (struct.unpack returns the position after the values last: it is not a length)
  local list = n == 0 and {} or {struct.unpack(FMT[per * n], blob, 5)}
  local size = 4 + 4 * per * n
  for i = 1, per * n do size = size + list[i] end
  if size ~= #blob then return 'malformed' end
  lengths[b] = list
  counts[b] = per * n
end

for b = 6, #ARGV do
  local blob, list, count = ARGV[b], lengths[b], counts[b]
  if count > 0 then
    local upserts = b < 6 + upsertBlobs
    local at = 5 + 4 * count
    local args = {}
    for i = 1, count do
      args[i] = string.sub(blob, at, at + list[i] - 1)
      at = at + list[i]
    end
    redis.call(upserts and 'HSET' or 'HDEL', KEYS[3], unpack(args, 1, count))
  end
end
redis.call('HSET', KEYS[2], 'seq', ARGV[3], 'sub', ARGV[4], 'v', (tonumber(meta[4]) or 0) + 1)
return 'written'
`;

/**
 * Empties a shard's state at a position and ends every claim. KEYS epoch, meta, entries; ARGV epoch,
 * seq, sub ('' '' for the stream's start). Returns 'lost' or 'reset'.
 */
export const KEYED_RESET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
local v = tonumber(redis.call('HGET', KEYS[2], 'v')) or 0
-- UNLINK frees a large hash in the background instead of inside this script
redis.call('UNLINK', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[2], 'v', v + 1)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'sub', ARGV[3]) end
return 'reset'
`;
