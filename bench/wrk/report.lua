-- Shared by the bench's wrk scripts: reads the targets written by scripts/bench.sh
-- and prints one JSON line of results (requests/s, p50, p99, errors) when wrk ends.
local M = {}

-- Lines of `token clinic practitioner patient,patient,...` (bench/.run/targets.txt,
-- or the file BENCH_TARGETS names: the growth runs' smaller clinics).
function M.targets(path)
  local list = {}
  for line in io.lines(path or os.getenv("BENCH_TARGETS") or "bench/.run/targets.txt") do
    local token, clinic, practitioner, patients = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    if token then
      local ids = {}
      for id in patients:gmatch("[^,]+") do ids[#ids + 1] = id end
      list[#list + 1] = {
        auth = "Bearer " .. token,
        clinic = clinic,
        practitioner = practitioner,
        patients = ids,
      }
    end
  end
  assert(#list > 0, "no targets: run scripts/bench.sh")
  return list
end

-- wrk's `setup` callback: numbers the threads 1, 2, ... (each sees it as `id`).
function M.setup(thread)
  counter = (counter or 0) + 1
  thread:set("id", counter)
end

-- This thread's number from `M.setup`, 0 before it ran.
function M.thread()
  return tonumber(id) or 0
end

-- Seeds the thread's random choices apart from the other threads'.
function M.seed_random()
  math.randomseed(os.time() + M.thread() * 7919)
end

-- wrk's `done` callback: one line the script picks up.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.2f,"p50_ms":%.3f,"p99_ms":%.3f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end

return M
