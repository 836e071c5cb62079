-- (4) POST /api/v1/appointments: every request books a distinct 15-minute slot, so
-- the exclusion constraint is checked but never refuses. A slot number is unique
-- per run (wrk argument), thread and request; slots start in 2031, away from the
-- seeded appointments. Practitioners have no working hours, so any time is bookable.
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")
local targets
local slot
local base = os.time({ year = 2031, month = 1, day = 1, hour = 0 })

function init(args)
  targets = report.targets()
  local run = tonumber(args[1]) or 0
  slot = run * 2000000 + report.thread() * 200000
  report.seed_random()
end

setup = report.setup

local function iso(seconds)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", seconds)
end

function request()
  local t = targets[math.random(#targets)]
  local patient = t.patients[math.random(#t.patients)]
  slot = slot + 1
  local starts = base + slot * 900
  local body = string.format(
    '{"patient_id":"%s","practitioner_id":"%s","starts_at":"%s","ends_at":"%s","reason":"Bench visit"}',
    patient, t.practitioner, iso(starts), iso(starts + 900))
  return wrk.format("POST", "/api/v1/appointments",
    { ["Authorization"] = t.auth, ["Content-Type"] = "application/json" }, body)
end

done = report.done
