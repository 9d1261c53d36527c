-- Test app: reports what the sandbox lets a script reach in
-- switchlua.shared["sandbox"] ("closed" when nothing leaked, else the names),
-- then answers the inbound leg like TonePlay. A refused library or function
-- must fail with an error that says it is not available in the sandbox.

function on_park(sess)
  if not sess:is_inbound() then return end
  local leaked = {}
  local function refused(name, f)
    local ok, err = pcall(f)
    if ok or not string.find(tostring(err), name .. " is not available in the sandbox", 1, true) then
      leaked[#leaked + 1] = name .. "=" .. tostring(err)
    end
  end
  refused("io.open", function() return io.open("/etc/hostname") end)
  refused("os.execute", function() return os.execute("true") end)
  refused("os.remove", function() return os.remove("/tmp/switchlua-sandbox-test") end)
  refused("debug.getinfo", function() return debug.getinfo(1) end)
  refused("dofile", function() return dofile("/etc/hostname") end)
  refused("loadfile", function() return loadfile("/etc/hostname") end)
  if pcall(require, "io") then leaked[#leaked + 1] = "require(io)" end
  if pcall(require, "os") then leaked[#leaked + 1] = "require(os)" end
  switchlua.shared.set("sandbox", #leaked == 0 and "closed" or table.concat(leaked, ","))
  sess:answer()
end
