-- Argo CD health of a NeuroEdge resource (Tenant, Engine, WorkerPool, VectorIndex), from its status.
-- Source of the per-kind copies in neuroedge.io/<Kind>/health.lua and argocd-cm-patch.yaml (helm/sync-crds.py).
--
-- Mapping, first match wins:
--   no status, or no Ready condition yet                 -> Progressing (the operator has not reported yet)
--   status.observedGeneration < metadata.generation      -> Progressing (the latest spec is not reconciled)
--   Degraded condition True                              -> Degraded    (its message)
--   Ready True                                           -> Healthy
--   Ready False, reason Suspended                        -> Suspended   (spec.suspend is honoured)
--   Ready False, reason in PROGRESSING_REASONS or
--     starting with "Waiting"                            -> Progressing (converging: pods starting, ...)
--   Ready False, any other reason                        -> Degraded    (needs a human: bad image, quota, ...)
--   Ready Unknown                                        -> Progressing
-- Written for Lua 5.1 (gopher-lua, as embedded in Argo CD): no goto, no integer division, no os/io.

local PROGRESSING_REASONS = {
  Reconciling = true, Progressing = true, Pending = true, Provisioning = true,
  Creating = true, Deploying = true, Scaling = true, Deleting = true,
}

local function condition(status, kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local hs = { status = "Progressing", message = "Waiting for the NeuroEdge operator to report status" }
local status = obj.status
local ready = condition(status, "Ready")
if ready == nil then
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  return hs
end

local degraded = condition(status, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded, "Degraded")
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

if ready.status == "False" then
  local reason = ready.reason or ""
  if reason == "Suspended" then
    hs.status = "Suspended"
  elseif PROGRESSING_REASONS[reason] or string.sub(reason, 1, 7) == "Waiting" then
    hs.status = "Progressing"
  else
    hs.status = "Degraded"
  end
  hs.message = describe(ready, hs.status)
  return hs
end

hs.message = describe(ready, "Ready is Unknown")
return hs
