// Unit tests of the proxy's control endpoints (core/servers/emulator/control.js): answers computed without a server.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const emulator = path.join(__dirname, '..', '..', 'core', 'servers', 'emulator')
const { controlAnswer, authorized } = require(path.join(emulator, 'control.js'))
const { createAdmission } = require(path.join(emulator, 'admission.js'))
const { createBulk } = require(path.join(emulator, 'bulkput.js'))
const { validConditions } = require(path.join(emulator, 'faults.js'))

const TOKEN = 'the-token'
const HEADERS = { 'x-lab-token': TOKEN }

function state (token) {
  const admission = createAdmission({}, function () { return 1000 })
  return {
    token: token === undefined ? TOKEN : token,
    backend: 'dynalite',
    conditions: validConditions({}),
    admission,
    bulk: createBulk({ engine: function () { return Promise.resolve({ status: 200, data: {} }) }, capacity: admission.model }),
    stats: { requests: 3, writes: 2, auth_refused: {} },
  }
}

function ask (s, method, url, body, headers) {
  return controlAnswer(s, method, url, headers || HEADERS, Buffer.from(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)))
}

test('the token: compared whole; an empty token opens nothing', function () {
  assert.equal(authorized(TOKEN, TOKEN), true)
  assert.equal(authorized(TOKEN, TOKEN + 'x'), false)
  assert.equal(authorized(TOKEN, undefined), false)
  assert.equal(authorized('', ''), false)
})

for (const [token, headers] of [[TOKEN, {}], [TOKEN, { 'x-lab-token': 'wrong' }], ['', { 'x-lab-token': '' }]]) {
  test('refused without the lab token: ' + JSON.stringify([token, headers]), function () {
    const s = state(token)
    for (const [method, url] of [['GET', '/__lab/stats'], ['POST', '/__lab/conditions'], ['GET', '/__lab/bulk']]) {
      const answer = ask(s, method, url, { throttle: 1 }, headers)
      assert.equal(answer.status, 403)
      assert.match(answer.data.message, /x-lab-token header/)
    }
    assert.equal(s.conditions.throttle, 0)
  })
}

test('stats: the counters, the conditions, the backend and the capacity figures', function () {
  const answer = ask(state(), 'GET', '/__lab/stats')
  assert.equal(answer.status, 200)
  assert.equal(answer.data.requests, 3)
  assert.equal(answer.data.backend, 'dynalite')
  assert.deepEqual(answer.data.conditions, validConditions({}))
  assert.deepEqual(answer.data.capacity.config, { mode: 'off' })
})

test('stats since a time: the capacity figures are cut from it', function () {
  const s = state()
  s.admission.configure({ mode: 'on-demand' })
  s.admission.admitPut('T', { k: { S: 'a' } })
  assert.equal(ask(s, 'GET', '/__lab/stats?since=999.5').data.capacity.tables.T.consumed_wru, 1)
  assert.equal(ask(s, 'GET', '/__lab/stats?since=1001').data.capacity.tables.T.consumed_wru, 0)
  assert.equal(ask(s, 'GET', '/__lab/stats?since=soon').status, 404)
})

test('conditions: read, replaced when valid, kept when not', function () {
  const s = state()
  assert.deepEqual(ask(s, 'POST', '/__lab/conditions', { latency_ms: 5, error: 0.5 }), { status: 200, data: validConditions({ latency_ms: 5, error: 0.5 }) })
  assert.equal(s.conditions.error, 0.5)
  const bad = ask(s, 'POST', '/__lab/conditions', { error: 2 })
  assert.equal(bad.status, 400)
  assert.match(bad.data.message, /fault error is a probability between 0 and 1/)
  const notJson = ask(s, 'POST', '/__lab/conditions', '{nope')
  assert.equal(notJson.status, 400)
  assert.match(notJson.data.message, /^conditions must be JSON: /)
  assert.equal(ask(s, 'GET', '/__lab/conditions').data.error, 0.5)
  assert.equal(ask(s, 'PUT', '/__lab/conditions', {}).status, 405)
})

test('capacity: replaced when valid (every table afresh), kept when not', function () {
  const s = state()
  assert.deepEqual(ask(s, 'POST', '/__lab/capacity', { mode: 'provisioned', wcu: 10 }), { status: 200, data: { mode: 'provisioned', wcu: 10 } })
  assert.equal(s.admission.on, true)
  assert.equal(ask(s, 'POST', '/__lab/capacity', { mode: 'never' }).status, 400)
  assert.match(ask(s, 'POST', '/__lab/capacity', '[').data.message, /^capacity must be JSON: /)
  assert.deepEqual(ask(s, 'GET', '/__lab/capacity').data, { mode: 'provisioned', wcu: 10 })
  assert.equal(ask(s, 'DELETE', '/__lab/capacity').status, 405)
})

test('bulk: its model read and set; S3 keys are never answered', function () {
  const s = state()
  assert.equal(ask(s, 'GET', '/__lab/bulk').data.startup_s, 0)
  const set = ask(s, 'POST', '/__lab/bulk', { startup_s: 5, s3: { endpoint: 'http://127.0.0.1:1', access_key: 'AKID', secret_key: 'SECRET-KEY' } })
  assert.equal(set.status, 200)
  assert.equal(set.data.startup_s, 5)
  assert.doesNotMatch(JSON.stringify(set.data) + JSON.stringify(ask(s, 'GET', '/__lab/bulk').data), /SECRET-KEY/)
  assert.equal(ask(s, 'POST', '/__lab/bulk', { startup_s: -1 }).status, 400)
})

test('an unknown endpoint: 404 naming it', function () {
  assert.deepEqual(ask(state(), 'GET', '/__lab/nothing'), { status: 404, data: { message: 'unknown lab endpoint GET /__lab/nothing' } })
})
