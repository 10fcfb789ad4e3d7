/**
 * Presence scripts on a Redis Cluster. The expiry index (`<prefix>presence`, a sorted set
 * `<topic>\n<ref>` → expiry) is one key in its own slot; a topic's entries (`<prefix>{<topic>:presence}:pm`)
 * share the slot of its diff topic's stream and watermark. So every operation is two scripts,
 * the index's and the topic's, in an order that keeps readers right (redis.cluster-presence-store.ts).
 */

/** `now` in ms from Redis' clock. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: index. ARGV: ttlMs, member. Adds (or extends) the member's expiry. */
export const INDEX_ADD = `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], 3 * tonumber(ARGV[1]))
return 1`;

/** KEYS: index. ARGV: ttlMs, members. Extends each member's expiry; returns the 1-based indexes of those gone. */
export const INDEX_REFRESH = `${NOW}
local ttl = tonumber(ARGV[1])
local gone = {}
for i = 2, #ARGV do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ttl, ARGV[i]) == 0 then gone[#gone + 1] = i - 1 end
end
redis.call('PEXPIRE', KEYS[1], 3 * ttl)
return gone`;

/** KEYS: index. ARGV: limit. Removes expired members and returns them. */
export const INDEX_SWEEP = `${NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(expired) do redis.call('ZREM', KEYS[1], member) end
return expired`;

/**
 * KEYS: topic hash, diff stream, diff watermark. ARGV: ref, value, ttlMs, maxMembers. Stores
 * the entry unless the topic is full (0); refreshes the topic's keys' expiry.
 */
export const TOPIC_JOIN = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], 3 * tonumber(ARGV[3])) end
return 1`;

/** KEYS: topic hash, diff stream, diff watermark. ARGV: ttlMs, then (ref, value) pairs to store. Refreshes the keys' expiry. */
export const TOPIC_PUT = `
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], 3 * tonumber(ARGV[1])) end
return 1`;

/** KEYS: topic hash. ARGV: ref, value. Replaces the entry: its previous value, or false when it is gone. */
export const TOPIC_UPDATE = `
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if not previous then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return previous`;

/** KEYS: topic hash. ARGV: ref. Removes the entry: its value, or false (one caller gets it, once). */
export const TOPIC_TAKE = `
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return value`;
