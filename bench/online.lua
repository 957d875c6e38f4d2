-- online.lua — wrk's script for bench/online.sh: POSTs feature vector
-- lookups with random ids. Environment: BENCH_PATH (the vectors route),
-- BENCH_AUTH (the Authorization header), BENCH_KEYS (ids are below it),
-- BENCH_BATCH (entries per request). 512 bodies are made per thread at
-- start and cycled through, so the script costs wrk little per request.
local path = os.getenv("BENCH_PATH")
local auth = os.getenv("BENCH_AUTH")
local keys = tonumber(os.getenv("BENCH_KEYS") or "100000")
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local bodies = {}
local n = 0
local seeds = 0

function setup(thread)
  seeds = seeds + 1
  thread:set("seed", seeds)
end

function init(args)
  math.randomseed(os.time() + (seed or 0) * 7919)
  for i = 1, 512 do
    local parts = {}
    for j = 1, batch do
      parts[j] = string.format('{"id":%d}', math.random(0, keys - 1))
    end
    bodies[i] = '{"entries":[' .. table.concat(parts, ",") .. ']}'
  end
end

function request()
  n = n + 1
  return wrk.format("POST", path, {["Authorization"] = auth, ["Content-Type"] = "application/json"},
                    bodies[n % #bodies + 1])
end
