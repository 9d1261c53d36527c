-- Test app: every inbound call it gets is busy (486 to the caller).
function on_park(sess)
  if sess:is_inbound() then sess:hangup("USER_BUSY") end
end
