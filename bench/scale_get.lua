-- wrk script of the search/lineage scale section (bench/run.sh, MF_BENCH_SCALE=1):
-- the URL on the command line is fetched as is; answers other than 200 are
-- counted, and done() prints the latency percentiles wrk's --latency table
-- lacks (p95), in microseconds, one "scale_pXX_us N" line each.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + (t:get("bad") or 0)
  end
  for _, p in ipairs({50, 90, 95, 99}) do
    io.write(string.format("scale_p%d_us %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("scale_requests %d\nscale_non_200 %d\nscale_socket_errors %d\n", summary.requests, n,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
