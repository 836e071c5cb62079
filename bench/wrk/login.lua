-- (5) POST /api/v1/auth/login with a random bench practitioner's email and the
-- bench password (bench/.run/logins.txt: the password, then one email a line).
-- Each success runs one argon2id verification and opens a session.
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")
local bodies = {}

function init(args)
  local password
  for line in io.lines("bench/.run/logins.txt") do
    if not password then
      password = line
    else
      bodies[#bodies + 1] = string.format('{"email":"%s","password":"%s"}', line, password)
    end
  end
  assert(#bodies > 0, "no logins: run scripts/bench.sh")
  report.seed_random()
end

setup = report.setup

function request()
  return wrk.format("POST", "/api/v1/auth/login",
    { ["Content-Type"] = "application/json" }, bodies[math.random(#bodies)])
end

done = report.done
