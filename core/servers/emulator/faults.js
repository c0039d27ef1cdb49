// The network conditions the proxy injects: their settings, and which fault (if any) a request meets.
//
// Pure: every draw takes `random` (a function returning uniform numbers in [0, 1), Math.random in the proxy, a
// seeded one in the tests). Conditions (all optional, 0 by default): latency_ms, jitter_ms (every request waits
// latency + uniform(0, jitter)); throttle, error, reset (probabilities that add up to at most 1, applied to valid
// PutItem and BatchWriteItem requests only). validConditions() checks them with the messages of the Python
// Conditions dataclass (core/domain/plan.py), which checks them first.
'use strict'

const DELAYS = ['latency_ms', 'jitter_ms']
const FAULTS = ['throttle', 'error', 'reset']
const NONE = Object.freeze({ latency_ms: 0, jitter_ms: 0, throttle: 0, error: 0, reset: 0 })

// The conditions from their JSON form (every key optional), or an Error saying what is wrong.
function validConditions (raw) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('conditions must be a JSON object like {"latency_ms": 20, "throttle": 0.1}')
  }
  const out = Object.assign({}, NONE)
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in out)) throw new Error('unknown condition ' + JSON.stringify(key) + ': use ' + Object.keys(out).join(', '))
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(key + ' must be a number, got ' + JSON.stringify(value))
    if (DELAYS.includes(key) && !(value >= 0 && value <= 60000)) {
      throw new Error(key + ' must be between 0 and 60000 ms, got ' + value)
    }
    if (FAULTS.includes(key) && !(value >= 0 && value <= 1)) {
      throw new Error('fault ' + key + ' is a probability between 0 and 1, got ' + value)
    }
    out[key] = value
  }
  if (FAULTS.reduce(function (sum, key) { return sum + partsPerMillion(out[key]) }, 0) > 1000000) {
    throw new Error('fault probabilities throttle + error + reset must add up to at most 1')
  }
  return out
}

// Probabilities add up in whole parts per million, as core/domain/plan.py's parts_per_million does (the same IEEE
// operations): 0.33 + 0.56 + 0.11 is 1 here and there, whatever order floats would be summed in.
function partsPerMillion (probability) {
  return Math.floor(probability * 1000000 + 0.5)
}

// Whether any fault can happen (else no write needs parsing for them).
function faulty (conditions) {
  return conditions.throttle > 0 || conditions.error > 0 || conditions.reset > 0
}

// How long a request waits before it is handled, in ms: latency + uniform(0, jitter) (no draw without jitter).
function delayMs (conditions, random) {
  return conditions.jitter_ms > 0 ? conditions.latency_ms + random() * conditions.jitter_ms : conditions.latency_ms
}

// The fault a valid write meets: one draw splits [0, 1) into reset | error | throttle | none; a reset is then
// 'drop' (the connection closes before the write) or 'lose' (the write happens, its answer is lost), even odds.
// 'throttle' applies to a PutItem; a batch is thinned item by item instead (holdBack).
function drawFault (conditions, random) {
  const roll = faulty(conditions) ? random() : 1
  let edge = conditions.reset
  if (roll < edge) return random() < 0.5 ? 'drop' : 'lose'
  if (roll < (edge += conditions.error)) return 'error'
  if (roll < edge + conditions.throttle) return 'throttle'
  return null
}

// A batch's requests for one table split by the throttle probability, each item drawn on its own:
// { kept, held }, both in the request's order.
function holdBack (requests, throttle, random) {
  const kept = []
  const held = []
  for (const request of requests) {
    if (throttle > 0 && random() < throttle) held.push(request)
    else kept.push(request)
  }
  return { kept, held }
}

module.exports = { validConditions, partsPerMillion, faulty, delayMs, drawFault, holdBack, NONE, DELAYS, FAULTS }
