-- wrk script of bench/load.sh, configured from the environment:
--   LOAD_METHOD  GET (default) or PUT
--   LOAD_PATH    the path to GET, or the prefix of the unique paths to PUT
--   LOAD_AUTH    the Authorization header's value (none when empty)
--   LOAD_SIZE    PUT body size in bytes (default 2048); every body differs (a counter at its end)
--   LOAD_DELAY   milliseconds each connection waits between requests (default 0: flat out)
--   LOAD_OUT     file the summary is written to as JSON (requests, errors, latency percentiles)
local method = os.getenv("LOAD_METHOD") or "GET"
local path = os.getenv("LOAD_PATH") or "/"
local auth = os.getenv("LOAD_AUTH") or ""
local size = tonumber(os.getenv("LOAD_SIZE") or "2048")
local pause = tonumber(os.getenv("LOAD_DELAY") or "0")
local out = os.getenv("LOAD_OUT")

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local headers = {}
local fixed
local n = 0
local filler

function init(args)
  if auth ~= "" then headers["Authorization"] = auth end
  if method == "GET" then
    fixed = wrk.format("GET", path, headers)
  else
    headers["Content-Type"] = "application/octet-stream"
    filler = string.rep("x", math.max(0, size - 24))
  end
end

function request()
  if fixed then return fixed end
  n = n + 1
  local body = filler .. string.format("%024d", tid * 1000000000 + n)
  return wrk.format("PUT", path .. tid .. "-" .. n .. ".bin", headers, body)
end

if pause > 0 then
  function delay() return pause end
end

function done(summary, latency, requests)
  if not out then return end
  local e = summary.errors
  local f = assert(io.open(out, "w"))
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  f:close()
end
