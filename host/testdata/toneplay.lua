-- TonePlay (test copy; the real one is scripts/builtin/toneplay.lua):
-- answer the parked inbound leg, play a tone on the outbound leg, echo on the inbound one.

function on_park(sess)
  if sess:is_inbound() then sess:answer() end
end

function on_answer(sess)
  if sess:is_inbound() then
    sess:echo()
  else
    sess:broadcast("playback::{loops=-1}tone_stream://%(251,0,1004)")
  end
end
