-- switchlua.router: switchio's Router for Lua call flows.
--
--   local router = switchlua.router.new{guards = {["Call-Direction"] = "inbound"}}
--   router:route("^1(%d%d%d)$", function(sess, ext)
--     sess:bridge{dest_url = ext .. "@pbx.example.com"}
--     return router.STOP            -- no further routes
--   end)
--   function on_park(sess) router:handle(sess) end
--
-- handle(sess) checks the guards (header = wanted value; a mismatch hangs the
-- call up with reject_cause when reject_on_guard, else ignores it), then runs
-- every route whose Lua pattern matches the route's field (default
-- Caller-Destination-Number), in the order they were added, passing the
-- pattern's captures. A handler returning router.STOP ends routing. When no
-- route matches, the call is hung up with NO_ROUTE_DESTINATION.
-- Call handle directly from a callback (it may hang up, which waits).

local Router = {}
Router.__index = Router

Router.STOP = setmetatable({}, {__tostring = function() return "router.STOP" end})

function Router.new(opts)
  opts = opts or {}
  local guards = {}
  for k, v in pairs(opts.guards or {}) do guards[k] = v end
  local self = setmetatable({
    routes = {},
    guards = guards,
    reject_on_guard = opts.reject_on_guard ~= false,
    reject_cause = opts.reject_cause or "CALL_REJECTED",
    no_route_cause = opts.no_route_cause or "NO_ROUTE_DESTINATION",
    field = opts.field or "Caller-Destination-Number",
  }, Router)
  self.STOP = Router.STOP
  return self
end

-- route(pattern, fn) or route(pattern, {field = "variable_x"}, fn)
function Router:route(pattern, opts, fn)
  if fn == nil then
    -- (not "opts, fn = {}, opts": gopher-lua assigns left to right)
    fn = opts
    opts = {}
  end
  if type(pattern) ~= "string" then error("router:route: pattern must be a string", 2) end
  if type(fn) ~= "function" then error("router:route: handler must be a function", 2) end
  table.insert(self.routes, {pattern = pattern, field = opts.field or self.field, fn = fn})
  return self
end

-- guard(header, value) adds a guard.
function Router:guard(header, value)
  self.guards[header] = value
  return self
end

local function run(fn, sess, value, pattern)
  local caps = {string.match(value, pattern)}
  if caps[1] == nil then return false end
  return true, fn(sess, unpack(caps))
end

-- handle(sess) routes a session; it returns how many routes ran.
function Router:handle(sess)
  for header, want in pairs(self.guards) do
    if sess[header] ~= want then
      if self.reject_on_guard then sess:hangup(self.reject_cause) end
      return 0
    end
  end
  local ran = 0
  for _, r in ipairs(self.routes) do
    local value = sess[r.field]
    if value ~= nil then
      local matched, res = run(r.fn, sess, value, r.pattern)
      if matched then
        ran = ran + 1
        if res == Router.STOP then break end
      end
    end
  end
  if ran == 0 then sess:hangup(self.no_route_cause) end
  return ran
end

return Router
