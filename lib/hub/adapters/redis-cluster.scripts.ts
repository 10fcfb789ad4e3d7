/**
 * The publish path on a Redis Cluster, where one script may only touch keys of one slot and
 * must declare them all in KEYS. A topic's keys share its hash tag (redis-keys.ts), so the
 * topic's part of a publish stays one atomic script; the epoch and the topics index live in
 * slots of their own and are separate commands (see redis.hub-adapter.ts).
 */

/**
 * Appends one record to a topic and notifies its channel, atomically: as PUBLISH_SCRIPT
 * (redis-publish.script.ts) does for a topic's own keys (the cap, the watermark, the birth mark,
 * the age limit, the TTL), then `SPUBLISH` (sharded Pub/Sub, Redis >= 7) or `PUBLISH`.
 *
 * KEYS: stream, watermark, channel. ARGV: json, historySize, epoch, maxAgeMs, ttlMs, publish
 * command (`SPUBLISH` or `PUBLISH`). Returns the record's id.
 */
export const CLUSTER_PUBLISH_SCRIPT = `
local born = redis.call('EXISTS', KEYS[1]) == 0
local over = redis.call('XLEN', KEYS[1]) + 1 - tonumber(ARGV[2])
if over > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  redis.call('SET', KEYS[2], gone[#gone][1])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- A new stream starts 1 ms ahead: an earlier life of the topic may have used ids of this very ms.
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], born and ((now + 1) .. '-0') or '*', 'd', ARGV[1])
if born then redis.call('SET', KEYS[2], 'b:' .. id) end
if tonumber(ARGV[4]) > 0 then
  local oldest = now - tonumber(ARGV[4])
  local expired = redis.call('XREVRANGE', KEYS[1], '(' .. oldest .. '-0', '-', 'COUNT', 1)
  if #expired > 0 then
    redis.call('SET', KEYS[2], expired[1][1])
    redis.call('XTRIM', KEYS[1], 'MINID', oldest .. '-0')
  end
end
if tonumber(ARGV[5]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
redis.call(ARGV[6], KEYS[3], ARGV[3] .. ' ' .. id .. ' ' .. ARGV[1])
return id
`;

/**
 * Records a publish in the topics index (its own slot): the topic's last-publish time, the
 * index's TTL, and the least recently published topics past `maxTopics`, which it removes from
 * the index and returns (the adapter then deletes their keys, one slot at a time).
 *
 * KEYS: topics index. ARGV: topic, ttlMs, maxTopics.
 */
export const CLUSTER_TOPICS_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local score = now
if #top > 0 and tonumber(top[2]) + 1 / 1024 > score then score = tonumber(top[2]) + 1 / 1024 end
redis.call('ZADD', KEYS[1], score, ARGV[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
end
local forgotten = {}
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if excess > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], excess)
  for i = 1, #popped, 2 do forgotten[#forgotten + 1] = popped[i] end
end
return forgotten
`;
