-- IVR: a call flow written top to bottom, like a mod_lua script.
--
-- For each inbound call: answer, play a prompt, wait for one DTMF digit
-- (with a timeout), then branch:
--   1        bridge the call to `dest`
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
    local ok, err = sess:bridge{dest_url = dest}
    if not ok then
      log.warn("bridge failed:", err)
      sess:hangup("NORMAL_TEMPORARY_FAILURE")
    end
  elseif digit == "2" then
    sess:playback(goodbye)
    wait_stop(sess, goodbye, 10)
    sess:hangup()
  else
    sess:hangup()
  end
end
