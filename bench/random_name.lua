-- wrk script for `make bench`: every request asks for a random dataset name.
--
--   wrk ... -s bench/random_name.lua -- PREFIX FORMAT COUNT [TOKEN]
--
-- PREFIX  path before the name, e.g. /datasets/ or /api/v1/datasets/
-- FORMAT  string.format pattern of the names, e.g. bench_ds_%05d
-- COUNT   names are FORMAT(0) .. FORMAT(COUNT - 1)
-- TOKEN   optional bearer token sent as Authorization
--
-- Responses other than 200 are counted and printed at the end, so a bench
-- that measured 404s or 401s does not pass for a fast one.

local counter = 1
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   prefix = args[1] or "/datasets/"
   format = args[2] or "bench_ds_%05d"
   count = tonumber(args[3] or "10000")
   headers = {}
   if args[4] ~= nil and args[4] ~= "" then
      headers["Authorization"] = "Bearer " .. args[4]
   end
   math.randomseed(os.time() * 1000 + id)
   non200 = 0
end

function request()
   local name = string.format(format, math.random(0, count - 1))
   return wrk.format("GET", prefix .. name, headers)
end

function response(status, hdrs, body)
   if status ~= 200 then
      non200 = non200 + 1
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, t in ipairs(threads) do
      total = total + (t:get("non200") or 0)
   end
   io.write(string.format("non-200 responses: %d\n", total))
end
