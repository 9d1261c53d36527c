-- Test app: the outbound leg of a self-call plays the caller of scripts/ivr.lua.
-- ctx.args.caller is "press:<digit>" (send that DTMF), "silent" or "hangup".

local mode = "silent"

function setup(ctx)
  mode = ctx.args.caller or mode
end

function on_answer(sess)
  if not sess:is_outbound() then return end
  sleep(0.3) -- the IVR answers, starts its prompt and waits for a digit
  local digit = mode:match("^press:(.)$")
  if digit then
    sess:send_dtmf(digit)
  elseif mode == "hangup" then
    sess:hangup()
  end
end
