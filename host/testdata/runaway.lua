-- Test app: a callback that never yields. Composed after toneplay.lua, the
-- CPU budget must stop it while the call goes on.

function on_answer(sess)
  if sess:is_outbound() then
    local n = 0
    while true do n = n + 1 end
  end
end
