-- wrk script for the payment benchmark: POSTs the signed notifications of the file
-- named by NOTIFY_REQUESTS (lines from notify-gen: body, signature, timestamp, nonce,
-- tab-separated) to /v1/payments/notify/sandbox. With NOTIFY_THREADS wrk threads, thread
-- k sends lines k, k + NOTIFY_THREADS, ... in order, so no two requests of a run carry
-- the same notification unless the file holds fewer lines than the run sends (the
-- script then starts over and says so). A file of one line replays one notification.

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local path = os.getenv("NOTIFY_REQUESTS")
  local threads = tonumber(os.getenv("NOTIFY_THREADS") or "1")
  requests = {}
  local i = 0
  for line in io.lines(path) do
    if i % threads == id then
      local body, sig, ts, nonce = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
      requests[#requests + 1] = wrk.format("POST", "/v1/payments/notify/sandbox", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Pay-Signature"] = sig,
        ["X-Pay-Timestamp"] = ts,
        ["X-Pay-Nonce"] = nonce,
      }, body)
    end
    i = i + 1
  end
  n = 0
  wrapped = false
end

function request()
  n = n + 1
  if n > #requests then
    n = 1
    if not wrapped and #requests > 1 then
      wrapped = true
      io.stderr:write("notify.lua: thread " .. id .. " ran out of distinct notifications\n")
    end
  end
  return requests[n]
end
