-- Argo CD health check for dbmigrate.io/DatabaseMigration.
-- Install it under resource.customizations.health.dbmigrate.io_DatabaseMigration
-- in the argocd-cm ConfigMap (see docs/argocd.md). Runs in Argo CD's Lua 5.1 sandbox.
--
--   Healthy      Ready=True (phase Succeeded) for the current generation
--   Progressing  no status yet, status of an older generation, or a run in progress
--   Suspended    Blocked: the plan waits for a human approval (spec.safety.approval)
--   Degraded     Stalled=True, or Failed / RolledBack / Restored: the migration did not apply
local hs = { status = "Progressing", message = "Waiting for the operator to pick up the migration" }

local function condition(conditions, type)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type then return c end
  end
  return nil
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then return c.reason .. ": " .. c.message end
    return c.message
  end
  return fallback
end

if obj.status == nil then
  return hs
end

local status = obj.status
local generation = (obj.metadata ~= nil and obj.metadata.generation) or 0
local observed = status.observedGeneration
if observed == nil or observed < generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase or "Pending"
local ready = condition(status.conditions, "Ready")
local stalled = condition(status.conditions, "Stalled")
local reconciling = condition(status.conditions, "Reconciling")

if phase == "Blocked" then
  hs.status = "Suspended"
  local hash = ""
  if status.plan ~= nil and status.plan.hash ~= nil then hash = " (set spec.safety.approval to " .. status.plan.hash .. " to accept it)" end
  hs.message = describe(stalled, "The migration plan is blocked by the pre-deployment check") .. hash
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Migration " .. phase)
  return hs
end

if phase == "Failed" or phase == "RolledBack" or phase == "Restored" then
  hs.status = "Degraded"
  local msg = "Migration " .. phase
  if status.lastError ~= nil and status.lastError.message ~= nil then
    msg = msg .. ": " .. (status.lastError.step or "") .. ": " .. status.lastError.message
  end
  hs.message = msg
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Migrations applied")
  return hs
end

hs.status = "Progressing"
hs.message = describe(reconciling, "Phase " .. phase)
return hs
