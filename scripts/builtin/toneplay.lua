-- TonePlay: play a milliwatt tone on the outbound leg and echo it back on
-- the inbound leg, until the call is hung up (switchio's TonePlay).
--
-- Load it on the calls you originate (`switchlua run --script toneplay`):
-- the inbound leg is answered when it parks, then echoes; the outbound leg
-- plays an endless 1004 Hz tone.

function on_park(sess)
  if sess:is_inbound() then
    local ok, err = sess:answer()
    if not ok then log.warn("answer failed:", err) end
  end
end

function on_answer(sess)
  if sess:is_inbound() then
    sess:echo()
  else
    -- sendmsg execute, not uuid_broadcast (unreliable on parked channels,
    -- switchio issue #52)
    sess:playback("tone_stream://%(251,0,1004)", {params = {loops = -1}})
  end
end
