/**
 * Publishes one record, atomically: creates the epoch key if it is missing (a Redis that
 * lost its data gets a new epoch), appends to the topic's stream capped at exactly
 * `historySize` entries (and by age), keeps the watermark (every entry after it is still
 * there; on a new stream `b:<first id>`, the topic's birth: an older position is from a
 * life of the topic that is gone, and the first id is 1 ms ahead of the clock so that no id
 * of that life can equal or follow it), refreshes the keys' TTL, records the publish time in the
 * topics index and deletes the least recently published topics past `maxTopics`, and
 * notifies every instance on the topic's channel, so all of them see publishes in stream order.
 *
 * KEYS: stream, epoch, watermark, topics index. ARGV: json, historySize, epoch candidate,
 * maxAgeMs, channel, ttlMs, maxTopics, key prefix, topic.
 */
export const PUBLISH_SCRIPT = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
local born = redis.call('EXISTS', KEYS[1]) == 0
local over = redis.call('XLEN', KEYS[1]) + 1 - tonumber(ARGV[2])
if over > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  redis.call('SET', KEYS[3], gone[#gone][1])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- A new stream starts 1 ms ahead: an earlier life of the topic may have used ids of this very ms.
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], born and ((now + 1) .. '-0') or '*', 'd', ARGV[1])
if born then redis.call('SET', KEYS[3], 'b:' .. id) end
if tonumber(ARGV[4]) > 0 then
  local oldest = now - tonumber(ARGV[4])
  local expired = redis.call('XREVRANGE', KEYS[1], '(' .. oldest .. '-0', '-', 'COUNT', 1)
  if #expired > 0 then
    redis.call('SET', KEYS[3], expired[1][1])
    redis.call('XTRIM', KEYS[1], 'MINID', oldest .. '-0')
  end
end
-- Scores are publish times, strictly increasing (1/1024 ms apart within a ms), so eviction follows publish order exactly.
local top = redis.call('ZREVRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local score = now
if #top > 0 and tonumber(top[2]) + 1 / 1024 > score then score = tonumber(top[2]) + 1 / 1024 end
redis.call('ZADD', KEYS[4], score, ARGV[9])
if tonumber(ARGV[6]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (now - tonumber(ARGV[6])))
end
local excess = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[7])
if excess > 0 then
  local forgotten = redis.call('ZPOPMIN', KEYS[4], excess)
  for i = 1, #forgotten, 2 do
    redis.call('DEL', ARGV[8] .. 't:' .. forgotten[i], ARGV[8] .. 'w:' .. forgotten[i])
  end
end
redis.call('PUBLISH', ARGV[5], epoch .. ' ' .. id .. ' ' .. ARGV[1])
return {epoch, id}
`;

/**
 * Makes a publish script idempotent, keeping it as it is: runs `script` as a function unless
 * its idempotency key exists, and records the key with the script's result.
 *
 * The wrapped script gets one more key, last (`KEYS[#KEYS]`: the idempotency key,
 * `<prefix>{<topic>}:idem:<key>`, hash-tagged with the topic so that it shares the topic's
 * slot on a cluster) and one more argument, last (`ARGV[#ARGV]`: the key's lifetime in ms).
 * It returns `{0, <result>}` after publishing, `{1, <result of the earlier publish>}` for a
 * key already used; a table result is stored (and returned) joined by spaces.
 */
export function idempotentScript(script: string): string {
  return `
local function publish()
${script}
end
local idem = KEYS[#KEYS]
local prior = redis.call('GET', idem)
if prior then return {1, prior} end
local result = publish()
if type(result) == 'table' then result = table.concat(result, ' ') end
redis.call('SET', idem, result, 'PX', ARGV[#ARGV])
return {0, result}
`;
}

/** The single-Redis publish script with an idempotency key (KEYS 1-4 and ARGV 1-9 as {@link PUBLISH_SCRIPT}). */
export const IDEMPOTENT_PUBLISH_SCRIPT = idempotentScript(PUBLISH_SCRIPT);
