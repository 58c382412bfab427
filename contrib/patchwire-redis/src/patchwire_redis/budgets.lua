-- Per-principal budget counters (patchwire.principals.budgets), atomic across processes.
-- KEYS: the counters of every window of every budget a call falls under.
-- ARGV: op ("take", "add" or "used"), then per key: limit, amount, ttl (seconds).
-- take: if every counter has used < limit and used + amount <= limit, add every amount
--       and return {0, "0"}; else change nothing and return {index, used} of the first
--       refusing counter. add: add every (signed) amount. used: {0, used of KEYS[1]}.
local op = ARGV[1]
if op == "used" then
  return {0, redis.call("GET", KEYS[1]) or "0"}
end
if op == "take" then
  for i = 1, #KEYS do
    local used = tonumber(redis.call("GET", KEYS[i]) or "0")
    local limit = tonumber(ARGV[3 * i - 1])
    local amount = tonumber(ARGV[3 * i])
    if used >= limit or used + amount > limit then
      return {i, tostring(used)}
    end
  end
end
for i = 1, #KEYS do
  local amount = tonumber(ARGV[3 * i])
  if amount ~= 0 then
    redis.call("INCRBYFLOAT", KEYS[i], ARGV[3 * i])
  end
  if redis.call("TTL", KEYS[i]) == -1 then
    redis.call("EXPIRE", KEYS[i], math.ceil(tonumber(ARGV[3 * i + 1])))
  end
end
return {0, "0"}
