-- Like answer.lua, but the call must not be hung up by the Originator:
-- the app owns its end (switchio's call.vars['noautohangup']).
function on_park(sess)
  if sess:is_inbound() then
    sess.call.vars.noautohangup = true
    local ok, err = sess:answer()
    if not ok then log.warn("answer failed:", err) end
  end
end
