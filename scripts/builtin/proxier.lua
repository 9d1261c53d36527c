-- Proxier: bridge every inbound call to its own request URI
-- (${sip_req_uri}), like switchio's Proxier and FreeSWITCH's proxy dialplan.
-- A failed bridge hangs the call up with the far end's cause (USER_BUSY,
-- NO_ANSWER, ...); when the bridged far end hangs up, so does the caller.
--
-- Args (`--script proxier:profile=external:proxy=10.0.0.5:5060`):
--   dest_url  where to bridge (default ${sip_req_uri})
--   profile   sofia profile (default ${sofia_profile_name})
--   gateway   bridge through gateway/<name> instead of a profile
--   proxy     route through this SIP proxy (;fs_path=sip:<proxy>)
--   timeout   seconds to wait for the far end to answer (default 60)

local opts = {}
local timeout = 60

function setup(ctx)
  local a = ctx.args
  opts = {dest_url = a.dest_url, profile = a.profile, gateway = a.gateway, proxy = a.proxy}
  timeout = tonumber(a.timeout) or timeout
end

-- bridge_result waits for the outcome of the bridge just sent: true once
-- bridged (CHANNEL_BRIDGE); false and the cause when it failed (the bridge's
-- CHANNEL_EXECUTE_COMPLETE, cause in originate_disposition); nil and
-- "timeout" or "hangup". The sendmsg's +OK only says FreeSWITCH took the
-- command, and a fast failure can come before it: the latest event first.
local function bridge_result(sess)
  local ev = sess
  while true do
    local name = ev["Event-Name"]
    if name == "CHANNEL_BRIDGE" then return true end
    if name == "CHANNEL_EXECUTE_COMPLETE" and ev["Application"] == "bridge" then
      return false, ev["variable_originate_disposition"] or "NORMAL_TEMPORARY_FAILURE"
    end
    local why
    ev, why = sess:wait({"CHANNEL_BRIDGE", "CHANNEL_EXECUTE_COMPLETE"}, timeout)
    if not ev then return nil, why end
  end
end

function on_park(sess)
  if not sess:is_inbound() then return end
  local ok, err = sess:bridge(opts)
  if not ok then
    log.warn("bridge failed:", err)
    sess:hangup("NORMAL_TEMPORARY_FAILURE")
    return
  end
  local bridged, why = bridge_result(sess)
  if bridged == nil then
    if why == "timeout" then
      log.info("far end did not answer in", timeout, "s")
      sess:hangup("NO_ANSWER")
    end
    return -- "hangup": the caller left
  elseif not bridged then
    log.info("bridge failed:", why)
    sess:hangup(why)
    return
  end
  -- Bridged. When the far end hangs up the bridge app completes and the
  -- channel would go back to park: end the call with the far end's cause.
  local ev
  repeat
    ev = sess:wait("CHANNEL_EXECUTE_COMPLETE")
    if not ev then return end -- the caller hung up first
  until ev["Application"] == "bridge"
  sess:hangup(ev["variable_last_bridge_hangup_cause"] or "NORMAL_CLEARING")
end
