-- (3) GET /api/v1/patients?limit=20: the first page of a random clinic's patient
-- list (10,000 patients each in the full run), in name order.
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")
local targets

function init(args)
  targets = report.targets()
  report.seed_random()
end

setup = report.setup

function request()
  local t = targets[math.random(#targets)]
  return wrk.format("GET", "/api/v1/patients?limit=20", { ["Authorization"] = t.auth })
end

done = report.done
