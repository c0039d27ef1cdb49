// Unit tests of the proxy's network conditions (core/servers/emulator/faults.js), with scripted random numbers.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { validConditions, partsPerMillion, faulty, delayMs, drawFault, holdBack, NONE } = require(path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'faults.js'))

// random() returning the given numbers in turn, then failing the test if asked for more.
function scripted (...numbers) {
  const random = function () {
    assert.ok(numbers.length, 'asked for more random numbers than the fault needs')
    return numbers.shift()
  }
  random.left = function () { return numbers.length }
  return random
}

test('conditions: every key optional, the rest 0', function () {
  assert.deepEqual(validConditions({}), NONE)
  assert.deepEqual(validConditions({ latency_ms: 20, throttle: 0.1 }), { latency_ms: 20, jitter_ms: 0, throttle: 0.1, error: 0, reset: 0 })
  assert.deepEqual(validConditions({ latency_ms: 60000, jitter_ms: 0, throttle: 1 }).throttle, 1)
})

for (const [raw, message] of [
  [[], /must be a JSON object/],
  [null, /must be a JSON object/],
  [{ latency: 5 }, /unknown condition "latency": use latency_ms, jitter_ms, throttle, error, reset/],
  [{ latency_ms: '5' }, /latency_ms must be a number, got "5"/],
  [{ latency_ms: -1 }, /latency_ms must be between 0 and 60000 ms, got -1/],
  [{ jitter_ms: 60001 }, /jitter_ms must be between 0 and 60000 ms/],
  [{ error: 1.5 }, /fault error is a probability between 0 and 1, got 1.5/],
  [{ reset: -0.1 }, /fault reset is a probability/],
  [{ throttle: 0.5, error: 0.5, reset: 0.01 }, /must add up to at most 1/],
]) {
  test('conditions refused: ' + JSON.stringify(raw), function () {
    assert.throws(function () { validConditions(raw) }, message)
  })
}

test('probabilities add up in parts per million, as the Python side does', function () {
  assert.equal(partsPerMillion(0.33) + partsPerMillion(0.56) + partsPerMillion(0.11), 1000000)
  assert.deepEqual(validConditions({ throttle: 0.33, error: 0.56, reset: 0.11 }).error, 0.56) // 0.33 + 0.56 + 0.11 > 1 in floats
})

test('no fault: no random number is drawn', function () {
  assert.equal(faulty(NONE), false)
  assert.equal(drawFault(NONE, scripted()), null)
})

test('one draw splits [0, 1) into reset | error | throttle | none', function () {
  const conditions = validConditions({ reset: 0.125, error: 0.25, throttle: 0.25 }) // edges 0.125, 0.375, 0.625
  assert.equal(drawFault(conditions, scripted(0.05, 0.2)), 'drop') // a reset: the second draw picks its kind
  assert.equal(drawFault(conditions, scripted(0.05, 0.7)), 'lose')
  assert.equal(drawFault(conditions, scripted(0.125)), 'error')
  assert.equal(drawFault(conditions, scripted(0.37)), 'error')
  assert.equal(drawFault(conditions, scripted(0.375)), 'throttle')
  assert.equal(drawFault(conditions, scripted(0.62)), 'throttle')
  assert.equal(drawFault(conditions, scripted(0.625)), null)
  assert.equal(drawFault(validConditions({ error: 1 }), scripted(0.999)), 'error')
})

test('a batch is thinned item by item, in order', function () {
  const requests = ['a', 'b', 'c', 'd']
  const random = scripted(0.9, 0.1, 0.5, 0.49)
  assert.deepEqual(holdBack(requests, 0.5, random), { kept: ['a', 'c'], held: ['b', 'd'] })
  assert.deepEqual(holdBack(requests, 0, scripted()), { kept: requests, held: [] }) // no draws without throttling
})

test('delay: latency plus a uniform share of the jitter', function () {
  assert.equal(delayMs(validConditions({ latency_ms: 20, jitter_ms: 10 }), scripted(0.5)), 25)
  assert.equal(delayMs(validConditions({ latency_ms: 20 }), scripted()), 20) // no jitter: no draw
})
