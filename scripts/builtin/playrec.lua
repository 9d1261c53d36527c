-- PlayRec: play a clip to the callee and record it on the local file
-- system, for audio-quality (MOS) checks (a sequential take on switchio's
-- PlayRec).
--
-- The inbound leg answers and records; the outbound leg plays the clip
-- `iterations` times; then the recording stops and, after a short tail, the
-- call is hung up (the originator's auto-hangup is turned off for the call).
-- The log names each recording as FreeSWITCH reports it (RECORD_STOP's
-- Record-File-Path, with ${recordings_dir} expanded).
-- Args: file (default ivr/ivr-welcome_to_freeswitch.wav), iterations (1),
-- recdir (default ${recordings_dir}), tail (seconds, 1), stereo (false).

local file = "ivr/ivr-welcome_to_freeswitch.wav"
local iterations = 1
local recdir = "${recordings_dir}"
local tail = 1
local stereo = false

function setup(ctx)
  local a = ctx.args
  file = a.file or file
  iterations = tonumber(a.iterations) or iterations
  recdir = a.recdir or recdir
  tail = tonumber(a.tail) or tail
  stereo = a.stereo == "true"
end

function on_park(sess)
  if sess:is_inbound() then sess:answer() end
end

function on_answer(sess)
  local call = sess.call
  if call then call.vars.noautohangup = true end
  if sess:is_inbound() then
    local path = recdir .. "/callee_" .. sess.uuid .. ".wav"
    local ok, err = sess:start_record(path, {stereo = stereo})
    if not ok then log.warn("record failed:", err) end
    sess.vars.recording = path
    return
  end
  -- outbound: play the clip, then stop the callee's recording and hang up
  for i = 1, iterations do
    local ok, err = sess:playback(file)
    if not ok then log.warn("playback failed:", err) break end
    local ev, why = sess:wait("PLAYBACK_STOP", 60)
    if not ev then log.warn("no PLAYBACK_STOP:", why) break end
  end
  local peer = call and call:peer(sess)
  if peer and not peer.hungup then
    local ok, err = peer:stop_record()
    if not ok then log.warn("stop_record failed:", err) end
  end
  sleep(tail)
  if not sess.hungup then sess:hangup() end
end

-- FreeSWITCH expanded the path's variables: log the file it wrote.
function on_record_stop(sess, ev)
  log.info("recorded", ev["Record-File-Path"] or sess.vars.recording)
end
