/**
 * A token bucket kept in Redis, taken from atomically by a script, so every gateway sharing the Redis shares the
 * bucket. Time is Redis' own (`TIME`), so gateways' clocks need not agree. The bucket is a hash {t: tokens,
 * ts: ms of the last take}; it expires once it would be full again (plus 1 s), so idle keys cost nothing.
 * KEYS[1]: the bucket; ARGV: rate (tokens/s), burst. Returns {1, 0} when a token was taken, else {0, ms to wait}.
 */
export const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
`;
