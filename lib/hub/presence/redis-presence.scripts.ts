/**
 * Lua scripts of the Redis presence store. Keys: `<prefix>pm:<topic>` (hash ref → `<key>\n<json>`)
 * and `<prefix>presence` (sorted set `<topic>\n<ref>` → expiry in ms, Redis' clock). Both expire
 * 3 × ttl after the last refresh, so nothing outlives the instances that use presence; so do the
 * diff topic's stream and watermark (`<prefix>t:<topic>:presence`, `<prefix>w:...`): when the
 * entries are gone without leaves (every instance down that long), a client resuming its diffs
 * gets a reset and then a fresh state, never a member list with ghosts.
 */

/** `now` in ms from Redis' clock (one clock for every instance). */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: topic hash, index, diff stream, diff watermark. ARGV: ref, value, member, ttlMs,
 * maxMembers. 0 when the topic is full.
 */
export const PRESENCE_JOIN = `${NOW}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return 0 end
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], 3 * ttl) end
return 1`;

/** KEYS: topic hash, index. ARGV: ref, value, member. The previous value, or false when the entry is gone. */
export const PRESENCE_UPDATE = `
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then return false end
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if not previous then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return previous`;

/** KEYS: topic hash, index. ARGV: ref, member. The removed value, or false. */
export const PRESENCE_LEAVE = `
redis.call('ZREM', KEYS[2], ARGV[2])
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return value`;

/**
 * KEYS: index. ARGV: ttlMs, prefix, then (topic, ref, value) per entry. Extends each entry's
 * expiry; puts back those that are gone; returns (topic, ref) of those put back.
 */
export const PRESENCE_REFRESH = `${NOW}
local ttl = tonumber(ARGV[1])
local back = {}
local seen = {}
for i = 3, #ARGV, 3 do
  local topic, ref = ARGV[i], ARGV[i + 1]
  local member = topic .. '\\n' .. ref
  local hash = ARGV[2] .. 'pm:' .. topic
  -- One command per live entry: CH counts the updated score; 0 means the entry is gone.
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ttl, member) == 0 then
    redis.call('HSET', hash, ref, ARGV[i + 2])
    redis.call('ZADD', KEYS[1], now + ttl, member)
    back[#back + 1] = topic
    back[#back + 1] = ref
  end
  if not seen[topic] then
    seen[topic] = true
    redis.call('PEXPIRE', hash, 3 * ttl)
    redis.call('PEXPIRE', ARGV[2] .. 't:' .. topic .. ':presence', 3 * ttl)
    redis.call('PEXPIRE', ARGV[2] .. 'w:' .. topic .. ':presence', 3 * ttl)
  end
end
redis.call('PEXPIRE', KEYS[1], 3 * ttl)
return back`;

/** KEYS: index. ARGV: prefix, limit. Removes expired entries; returns (topic, ref, value) of each. */
export const PRESENCE_SWEEP = `${NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[1], member)
  local nl = string.find(member, '\\n', 1, true)
  if nl then
    local topic, ref = string.sub(member, 1, nl - 1), string.sub(member, nl + 1)
    local hash = ARGV[1] .. 'pm:' .. topic
    local value = redis.call('HGET', hash, ref)
    if value then
      redis.call('HDEL', hash, ref)
      out[#out + 1] = topic
      out[#out + 1] = ref
      out[#out + 1] = value
    end
  end
end
return out`;

/**
 * KEYS: topic hash, index. ARGV: topic. The topic's entries (ref, value pairs); an entry without
 * an index member (an orphan) is removed, not listed.
 */
export const PRESENCE_LIST = `
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  if redis.call('ZSCORE', KEYS[2], ARGV[1] .. '\\n' .. all[i]) then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return out`;

/** KEYS: index. ARGV: graceMs, members. Their entries expire in graceMs. */
export const PRESENCE_RELEASE = `${NOW}
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return 1`;
