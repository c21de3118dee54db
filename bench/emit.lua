-- wrk script for `make bench`: every request is a POST /api/v1/emit of one
-- MetaFuse emit event of a fixed size, for a dataset name no other request
-- of the run uses (so a worker applying them creates a new dataset each).
--
--   wrk ... -s bench/emit.lua -- TOKEN [SIZE] [TAG]
--
-- TOKEN  bearer token of an editor or admin key of the tenant
-- SIZE   body size in bytes (default 1024); the description is padded to it
-- TAG    letters put in front of every name, so runs with different tags
--        never reuse a name (default "e")
--
-- Names are <TAG>_<thread>_<counter>, fixed width, so every body has the
-- same size. Answers other than 202 are counted and printed at the end
-- ("non-202 responses: N"), with the body size ("body bytes: N").

local counter = 1
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

local head, middle, tail

local function body_for(name)
   return head .. name .. middle .. name .. tail
end

function init(args)
   local token = args[1] or ""
   size = tonumber(args[2] or "1024")
   tag = args[3] or "e"
   wrk.method = "POST"
   wrk.path = "/api/v1/emit"
   wrk.headers["Content-Type"] = "application/json"
   if token ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. token
   end
   n = 0
   non202 = 0
   local fields = {}
   local types = {"bigint", "text", "timestamp", "double", "boolean", "date", "text", "bigint"}
   for f = 1, #types do
      fields[#fields + 1] = string.format('{"name":"col_%d","type":"%s","nullable":%s,"description":"column %d"}',
                                          f, types[f], f == 1 and "false" or "true", f)
   end
   head = '{"dataset":{"namespace":"default","name":"'
   middle = '","format":"parquet","tags":["bench","emit"],"fields":[' .. table.concat(fields, ",") ..
            '],"path":"s3://bench-lake/emit/'
   -- the description pads the body to SIZE bytes
   local name0 = string.format("%s_%02d_%09d", tag, id, 0)
   local probe = head .. name0 .. middle .. name0 .. '","description":""}}'
   local pad = size - #probe
   if pad < 0 then
      pad = 0
   end
   tail = '","description":"' .. string.rep("x", pad) .. '"}}'
   body_bytes = #body_for(string.format("%s_%02d_%09d", tag, id, 0))
end

function request()
   n = n + 1
   return wrk.format(nil, nil, nil, body_for(string.format("%s_%02d_%09d", tag, id, n)))
end

function response(status, hdrs, body)
   if status ~= 202 then
      non202 = non202 + 1
   end
end

function done(summary, latency, requests)
   local total, bytes = 0, 0
   for _, t in ipairs(threads) do
      total = total + (t:get("non202") or 0)
      bytes = t:get("body_bytes") or bytes
   end
   io.write(string.format("non-202 responses: %d\n", total))
   io.write(string.format("body bytes: %d\n", bytes))
end
