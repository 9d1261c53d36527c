-- DtmfChecker: send DTMF digits from the outbound leg and check that the
-- inbound leg receives all of them, in order (switchio's DtmfChecker).
--
-- Results are counted in switchlua.shared ("dtmfchecker.ok" and
-- "dtmfchecker.failed") and logged. The app ends the call itself once the
-- inbound leg has checked (it turns the originator's auto-hangup off for the
-- call: FreeSWITCH spaces digits ~520 ms apart, so 9 digits take ~5 s, longer
-- than `switchlua run`'s default call duration). Args: digits (default
-- 123456789), duration (ms per digit, 200).

local digits = "123456789"
local duration = 200

function setup(ctx)
  digits = ctx.args.digits or digits
  duration = tonumber(ctx.args.duration) or duration
end

function on_park(sess)
  if sess:is_inbound() then sess:answer() end
end

function on_answer(sess)
  local call = sess.call
  if call then call.vars.noautohangup = true end -- we hang up once checked
  if sess:is_outbound() then
    sleep(0.2) -- let the media path settle
    local ok, err = sess:send_dtmf(digits, duration)
    if not ok then log.warn("send_dtmf failed:", err) end
    return
  end
  local got = {}
  -- per digit: the whole train at FreeSWITCH's real spacing, plus a margin
  local limit = #digits * (duration + 520) / 1000 + 5
  while #got < #digits do
    local ev, why = sess:wait("DTMF", limit)
    if not ev then
      log.warn("waiting for DTMF:", why)
      break
    end
    got[#got + 1] = ev["DTMF-Digit"]
  end
  local rx = table.concat(got)
  if rx == digits then
    switchlua.shared.incr("dtmfchecker.ok")
    log.info("DTMF ok:", rx)
  else
    switchlua.shared.incr("dtmfchecker.failed")
    log.error("DTMF mismatch: sent", digits, "received", rx)
  end
  -- Hang up the call (both legs) now that it is checked.
  if not sess.hungup then sess:hangup() end
end
