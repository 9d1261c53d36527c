-- Test app: reports what the sandbox lets a script reach in
-- switchlua.shared["sandbox"] ("closed" when nothing leaked, else the names),
-- then answers the inbound leg like TonePlay.

function on_park(sess)
  if not sess:is_inbound() then return end
  local leaked = {}
  local function check(name, v) if v ~= nil then leaked[#leaked + 1] = name end end
  check("io", io)
  check("os.execute", os and os.execute)
  check("os.remove", os and os.remove)
  check("debug", debug)
  check("dofile", dofile)
  check("loadfile", loadfile)
  if pcall(function() return dofile("/etc/hostname") end) then leaked[#leaked + 1] = "dofile()" end
  if pcall(require, "io") then leaked[#leaked + 1] = "require(io)" end
  if pcall(require, "os") then leaked[#leaked + 1] = "require(os)" end
  switchlua.shared.set("sandbox", #leaked == 0 and "closed" or table.concat(leaked, ","))
  sess:answer()
end
