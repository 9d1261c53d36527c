-- Router: route inbound calls by destination number with
-- switchlua.router (switchio's Router): guards, routes in order,
-- router.STOP, and NO_ROUTE_DESTINATION when nothing matches.
--
-- Built-in routes: "echo" or 9196 answers and echoes, "tone" answers and
-- plays a tone, "busy" rejects with USER_BUSY. Every arg whose key is a Lua
-- pattern (starts with ^) bridges matching numbers to its value, with %1..%9
-- replaced by the captures:
--   switchlua serve --script 'router:^1(%d%d%d)$=sofia/internal/%1@pbx'

local router = switchlua.router.new{
  guards = {["Call-Direction"] = "inbound"},
  reject_on_guard = false, -- outbound legs park too: leave them alone
}

router:route("^echo$", function(sess) sess:answer(); sess:echo(); return router.STOP end)
router:route("^9196$", function(sess) sess:answer(); sess:echo(); return router.STOP end)
router:route("^tone$", function(sess)
  sess:answer()
  sess:playback("tone_stream://%(251,0,1004)", {params = {loops = -1}})
  return router.STOP
end)
router:route("^busy$", function(sess) sess:hangup("USER_BUSY"); return router.STOP end)

function setup(ctx)
  for pattern, dest in pairs(ctx.args) do
    if pattern:sub(1, 1) == "^" then
      router:route(pattern, function(sess, ...)
        local caps = {...}
        local url = dest:gsub("%%(%d)", function(i) return caps[tonumber(i)] or "" end)
        local ok, err = sess:execute("bridge", url)
        if not ok then log.warn("bridge to", url, "failed:", err) end
        return router.STOP
      end)
    end
  end
end

function on_park(sess)
  router:handle(sess)
end
