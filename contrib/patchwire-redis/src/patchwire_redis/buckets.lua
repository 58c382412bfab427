-- One limiter operation over every window of a key, atomically: Redis runs a script to
-- completion before any other command, so processes sharing a quota never interleave.
-- The sums mirror patchwire.limiter.bucket and MemoryBackend term for term, so both
-- backends produce the same doubles from the same inputs.
--
-- KEYS[i]   one hash per window: l = level, t = stamp (seconds, as %.17g text so that a
--           double survives the round trip; Lua's tostring keeps only 14 digits)
-- ARGV[1]   "take" | "adjust" | "lower"
-- ARGV[2]   the time in seconds, or "" for the server's own clock (TIME)
-- ARGV[3..] per window: capacity, rate per second, amount (cost, delta or ceiling)
-- returns   {"1"|"0" admitted, wait in seconds, level of each window}, all as text
--           (a Lua number in a reply would be truncated to an integer)

local op = ARGV[1]
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[2])
end

local function text(x)
  return string.format('%.17g', x)
end

local n = #KEYS
local caps, rates, amounts, levels, stamps = {}, {}, {}, {}, {}
for i = 1, n do
  local base = 3 + (i - 1) * 3
  local cap = tonumber(ARGV[base])
  local rate = tonumber(ARGV[base + 1])
  caps[i], rates[i], amounts[i] = cap, rate, tonumber(ARGV[base + 2])
  local cell = redis.call('HMGET', KEYS[i], 'l', 't')
  if cell[1] then
    local stamp = tonumber(cell[2])
    levels[i] = math.min(cap, tonumber(cell[1]) + rate * math.max(0, now - stamp))
    stamps[i] = math.max(stamp, now)
  else
    -- a bucket never seen (or expired after idling until long full) starts full
    levels[i], stamps[i] = cap, now
  end
end

local ok, wait = '1', 0
if op == 'take' then
  for i = 1, n do
    local slack = 1e-9 * math.max(1, caps[i])
    if levels[i] < amounts[i] - slack then
      local deficit = amounts[i] - levels[i]
      local w
      if rates[i] <= 0 then w = math.huge else w = deficit / rates[i] end
      wait = math.max(wait, w)
    end
  end
  if wait > 0 then
    ok = '0'
  else
    for i = 1, n do
      if levels[i] >= 0 then
        -- the slack may leave a rounding error below zero; it is not debt, so drop it
        levels[i] = math.max(0, levels[i] - amounts[i])
      else
        levels[i] = levels[i] - amounts[i]
      end
    end
  end
elseif op == 'adjust' then
  for i = 1, n do
    levels[i] = math.min(caps[i], levels[i] - amounts[i])
  end
elseif op == 'lower' then
  for i = 1, n do
    levels[i] = math.min(levels[i], amounts[i])
  end
else
  return redis.error_reply('patchwire: unknown bucket operation ' .. tostring(op))
end

local reply = {ok, text(wait)}
for i = 1, n do
  redis.call('HSET', KEYS[i], 'l', text(levels[i]), 't', text(stamps[i]))
  -- Expiry only collects idle buckets: one left alone for 16 times its refill time at
  -- this rate (the adaptive limiter's deepest slow-down) plus a minute would be full
  -- again, which is what a missing key means.
  local ttl = math.huge
  if rates[i] > 0 then
    ttl = ((caps[i] - levels[i]) / rates[i] * 16 + 60) * 1000
  end
  if ttl < 1e12 then
    redis.call('PEXPIRE', KEYS[i], string.format('%d', math.ceil(ttl)))
  else
    redis.call('PERSIST', KEYS[i])
  end
  reply[i + 2] = text(levels[i])
end
return reply
