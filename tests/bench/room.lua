-- wrk script for the room benchmark: thread k drives room k of ROOM_TARGETS (lines
-- "roomId accountId"), alternating :invite and :defer of that room's one candidate, so
-- every request is one state transition (WAITING/DEFERRED → INVITED → DEFERRED → ...).
-- Run with as many threads as connections (-tN -cN): one request in flight per room. The
-- next verb follows the last answer, not a counter: wrk may build a request for a
-- connection it then reopens, and a counter would then skip a step.

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local i = 0
  for line in io.lines(os.getenv("ROOM_TARGETS")) do
    if i == id then
      room, account = line:match("^(%S+)%s+(%S+)$")
    end
    i = i + 1
  end
  token = os.getenv("ROOM_TOKEN")
  verb = "invite"
end

function request()
  return wrk.format("POST", "/v1/examiner/rooms/" .. room .. "/candidates/" .. account .. ":" .. verb,
    {["Authorization"] = "Bearer " .. token}, "")
end

-- A refused transition is printed (the run then fails): its reason says what broke.
function response(status, headers, body)
  if status < 300 then
    verb = (verb == "invite") and "defer" or "invite"
  else
    io.stderr:write("room.lua: room " .. room .. " " .. verb .. ": " .. status .. " " .. body .. "\n")
  end
end
