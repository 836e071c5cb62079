-- (1) baseline: GET /health/live, no authentication, no database.
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")
wrk.method = "GET"
wrk.path = "/health/live"
done = report.done
