-- Proxier: bridge every inbound call to its own request URI
-- (${sip_req_uri}), like switchio's Proxier and FreeSWITCH's proxy dialplan.
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

function on_park(sess)
  if not sess:is_inbound() then return end
  local ok, err = sess:bridge(opts)
  if not ok then
    log.warn("bridge failed:", err)
    sess:hangup("NORMAL_TEMPORARY_FAILURE")
    return
  end
  local ev, why = sess:wait("CHANNEL_ANSWER", timeout)
  if not ev and why == "timeout" then
    log.info("far end did not answer in", timeout, "s")
  end
end
