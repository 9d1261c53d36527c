-- IVR: a call flow written top to bottom, like a mod_lua script.
--
-- For each inbound call: answer, play a prompt, wait for one DTMF digit
-- (with a timeout), then branch:
--   1        bridge the call to `dest`; if that fails, hang up with the far
--            end's cause; when the far end hangs up, hang up too
--   2        play a goodbye and hang up
--   other    hang up with NORMAL_CLEARING
--   nothing  (timeout) hang up with NO_USER_RESPONSE
-- If the caller hangs up while we wait, the wait returns nil, "hangup" and
-- the flow just ends.
--
-- Args: prompt, goodbye, dest (default 1000@${domain}), timeout (seconds, 5).

local prompt = "ivr/ivr-welcome_to_freeswitch.wav"
local goodbye = "voicemail/vm-goodbye.wav"
local dest = "1000@${domain}"
local timeout = 5

function setup(ctx)
  local a = ctx.args
  prompt = a.prompt or prompt
  goodbye = a.goodbye or goodbye
  dest = a.dest or dest
  timeout = tonumber(a.timeout) or timeout
end

-- wait_stop waits for the PLAYBACK_STOP of file: the stop of an earlier
-- (interrupted) prompt may come first. FreeSWITCH reports the full path.
local function wait_stop(sess, file, timeout)
  while true do
    local ev, why = sess:wait("PLAYBACK_STOP", timeout)
    if not ev then return nil, why end
    local path = ev["Playback-File-Path"] or ""
    if path:sub(-#file) == file then return ev end
  end
end

-- bridge_result waits for the outcome of the bridge just sent: true once
-- bridged (CHANNEL_BRIDGE); false and the cause when it failed (the bridge's
-- CHANNEL_EXECUTE_COMPLETE, cause in originate_disposition); nil and
-- "hangup". The sendmsg's +OK only says FreeSWITCH took the command, and a
-- fast failure can come before it: the latest event first.
local function bridge_result(sess)
  local ev = sess
  while true do
    local name = ev["Event-Name"]
    if name == "CHANNEL_BRIDGE" then return true end
    if name == "CHANNEL_EXECUTE_COMPLETE" and ev["Application"] == "bridge" then
      return false, ev["variable_originate_disposition"] or "NORMAL_TEMPORARY_FAILURE"
    end
    local why
    ev, why = sess:wait({"CHANNEL_BRIDGE", "CHANNEL_EXECUTE_COMPLETE"})
    if not ev then return nil, why end
  end
end

-- transfer bridges the caller to dest and sees the call through to its end.
local function transfer(sess)
  local ok, err = sess:bridge{dest_url = dest}
  if not ok then
    log.warn("bridge failed:", err)
    return sess:hangup("NORMAL_TEMPORARY_FAILURE")
  end
  local bridged, cause = bridge_result(sess)
  if bridged == nil then return end -- the caller hung up
  if not bridged then
    log.info("bridge to", dest, "failed:", cause)
    return sess:hangup(cause)
  end
  -- The bridge app completes when the far end hangs up; the channel would
  -- then go back to park, so end the call with the far end's cause.
  local ev
  repeat
    ev = sess:wait("CHANNEL_EXECUTE_COMPLETE")
    if not ev then return end
  until ev["Application"] == "bridge"
  sess:hangup(ev["variable_last_bridge_hangup_cause"] or "NORMAL_CLEARING")
end

function on_park(sess)
  if not sess:is_inbound() then return end

  local ok, err = sess:answer()
  if not ok then
    log.warn("answer failed:", err)
    return
  end
  if not sess.answered then
    -- CHANNEL_ANSWER may come just before or after the +OK of the answer
    if not sess:wait("CHANNEL_ANSWER", 5) then return end
  end

  sess:playback(prompt)
  local ev, why = sess:wait("DTMF", timeout)
  if not ev then
    if why == "timeout" then
      log.info("no digit within", timeout, "s")
      sess:hangup("NO_USER_RESPONSE")
    end
    return -- "hangup": the caller left
  end

  local digit = ev["DTMF-Digit"]
  sess:breakmedia() -- stop the prompt
  log.info("caller pressed", digit)
  if digit == "1" then
    transfer(sess)
  elseif digit == "2" then
    sess:playback(goodbye)
    wait_stop(sess, goodbye, 10)
    sess:hangup()
  else
    sess:hangup()
  end
end
