-- Answer the inbound leg of each self-call when it parks; nothing else.
function on_park(sess)
  if sess:is_inbound() then
    local ok, err = sess:answer()
    if not ok then log.warn("answer failed:", err) end
  end
end
