-- Take the inbound leg of each self-call and never answer it: the call
-- rings until something else ends it.
function on_park(sess)
  if sess:is_inbound() then sess.vars.seen = true end
end
