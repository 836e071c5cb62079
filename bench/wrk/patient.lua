-- (2) GET /api/v1/patients/{id}: a random sampled patient of a random clinic, with
-- that clinic's practitioner's token (token and session check, clinic-scoped
-- transaction, row-level security, decryption of the national id and history).
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
  local id = t.patients[math.random(#t.patients)]
  return wrk.format("GET", "/api/v1/patients/" .. id, { ["Authorization"] = t.auth })
end

done = report.done
