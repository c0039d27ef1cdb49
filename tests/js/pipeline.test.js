// Unit tests of the request pipeline (core/servers/emulator/pipeline.js) through createProxy (proxy.js): a fake
// engine that records what reaches it, scripted random numbers, a fixed clock; the proxy listens on 127.0.0.1.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const path = require('node:path')
const emulator = path.join(__dirname, '..', '..', 'core', 'servers', 'emulator')
const { createProxy } = require(path.join(emulator, 'proxy.js'))
const { VIA_HEADER } = require(path.join(emulator, 'engines.js'))

const PREFIX = 'com.amazonaws.dynamodb.v20120810#'
const TOKEN = 'lab-token'
const SIGNED = 'AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64)
const TABLE = {
  TableName: 'Books', TableStatus: 'ACTIVE',
  KeySchema: [{ AttributeName: 'isbn', KeyType: 'HASH' }],
  AttributeDefinitions: [{ AttributeName: 'isbn', AttributeType: 'S' }],
}

// An engine that knows the table Books, writes nothing and records each call: { op, data }.
function fakeEngine () {
  const calls = []
  const engine = function (req, body, options, done) {
    const op = String(req.headers['x-amz-target']).split('.')[1]
    let data = null
    try { data = JSON.parse(body.toString() || '{}') } catch { /* the engine's business: a real one refuses it */ }
    calls.push({ op, data })
    if (op === 'Explode') throw new Error('the engine broke\nsecond line\nthird line')
    if (op === 'DescribeTable') {
      if (data === null || data.TableName !== 'Books') return done(400, {}, Buffer.from(JSON.stringify({ __type: PREFIX + 'ResourceNotFoundException' })))
      return done(200, {}, Buffer.from(JSON.stringify({ Table: TABLE })))
    }
    const answer = op === 'BatchWriteItem' ? { UnprocessedItems: {} } : {}
    done(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amz-crc32': '1' }, Buffer.from(JSON.stringify(answer)))
  }
  engine.calls = calls
  engine.writes = function () { return calls.filter(function (c) { return c.op !== 'DescribeTable' }) }
  return engine
}

// Random numbers given in turn, then 0.99 (no fault, nothing held back).
function scripted (...numbers) {
  return function () { return numbers.length ? numbers.shift() : 0.99 }
}

async function start (t, config, deps) {
  const logged = []
  const engine = fakeEngine()
  const proxy = createProxy(Object.assign({ token: TOKEN }, config), Object.assign({ engine, now: function () { return 1735689600000 }, log: function (line) { logged.push(line) } }, deps))
  await new Promise(function (resolve) { proxy.server.listen(0, '127.0.0.1', resolve) })
  t.after(function () { proxy.server.close(); proxy.server.closeAllConnections() })
  const port = proxy.server.address().port
  return { proxy, engine, logged, stats: proxy.state.stats, port, call: function (op, data, headers) { return request(port, op, data, headers) } }
}

// One request: { status, data } or { reset: true } when the connection closed without an answer.
function request (port, op, data, headers) {
  return new Promise(function (resolve, reject) {
    const body = Buffer.from(data === undefined ? '' : typeof data === 'string' ? data : JSON.stringify(data))
    const req = http.request({
      host: '127.0.0.1', port, method: op.startsWith('/') ? (data === undefined ? 'GET' : 'POST') : 'POST', path: op.startsWith('/') ? op : '/', agent: false,
      headers: Object.assign({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.' + op, authorization: SIGNED, 'content-length': body.length }, headers),
    }, function (res) {
      const chunks = []
      res.on('data', function (c) { chunks.push(c) })
      res.on('end', function () {
        const text = Buffer.concat(chunks).toString()
        resolve({ status: res.statusCode, headers: res.headers, data: text ? JSON.parse(text) : null })
      })
    })
    req.on('error', function (err) { err.code === 'ECONNRESET' ? resolve({ reset: true }) : reject(err) })
    req.end(op.startsWith('/') && data === undefined ? undefined : body)
  })
}

function item (isbn, bytes) {
  return { isbn: { S: isbn }, blob: { S: 'x'.repeat(bytes || 1) } }
}

function batch (count, bytes) {
  return { RequestItems: { Books: Array.from({ length: count }, function (_, i) { return { PutRequest: { Item: item('k' + i, bytes) } } }) } }
}

test('no conditions: a request reaches the engine untouched, its answer comes back', async function (t) {
  const { engine, call, stats } = await start(t, {}, { random: scripted() })
  const answer = await call('PutItem', { TableName: 'Books', Item: item('1') })
  assert.equal(answer.status, 200)
  assert.equal(answer.headers['x-amz-crc32'], '1')
  assert.deepEqual(engine.calls, [{ op: 'PutItem', data: { TableName: 'Books', Item: item('1') } }]) // nothing parsed: no DescribeTable
  assert.equal(stats.requests, 1)
  assert.equal(stats.writes, 1)
})

test('error=1: a valid write gets the injected 500, nothing written', async function (t) {
  const { engine, call, stats } = await start(t, { conditions: { error: 1 } }, { random: scripted(0.5) })
  const answer = await call('PutItem', { TableName: 'Books', Item: item('1') })
  assert.equal(answer.status, 500)
  assert.equal(answer.data.message, 'Injected internal server error')
  assert.deepEqual(engine.writes(), [])
  assert.equal(stats.errors, 1)
})

test('faults meet only valid writes: an invalid one goes to the engine, a 26-item batch is refused here', async function (t) {
  const { engine, call, stats } = await start(t, { conditions: { error: 1 } }, { random: scripted() })
  const missingKey = await call('PutItem', { TableName: 'Books', Item: { title: { S: 'no key' } } })
  assert.equal(missingKey.status, 200) // the fake engine's answer: the write went to it untouched
  assert.deepEqual(engine.writes().map(function (c) { return c.op }), ['PutItem'])
  const missingTable = await call('PutItem', { TableName: 'Nope', Item: item('1') })
  assert.equal(missingTable.status, 200)
  const twoTables = { RequestItems: { Books: batch(13).RequestItems.Books, Other: batch(13).RequestItems.Books } }
  const tooMany = await call('BatchWriteItem', twoTables) // 26 requests over two tables: the rule dynalite lacks
  assert.equal(tooMany.status, 400)
  assert.equal(tooMany.data.message, 'Too many items requested for the BatchWriteItem call')
  assert.equal(engine.writes().length, 2)
  assert.equal(stats.invalid, 3)
  assert.equal(stats.errors, 0)
  const notJson = await call('PutItem', '{"TableName": ')
  assert.equal(notJson.status, 200) // the engine's own answer (a real one refuses it)
})

test('throttle: a PutItem gets ProvisionedThroughputExceededException', async function (t) {
  const { engine, call, stats } = await start(t, { conditions: { throttle: 0.5 } }, { random: scripted(0.2) })
  const answer = await call('PutItem', { TableName: 'Books', Item: item('1') })
  assert.equal(answer.status, 400)
  assert.equal(answer.data.__type, PREFIX + 'ProvisionedThroughputExceededException')
  assert.deepEqual(engine.writes(), [])
  assert.equal(stats.throttled, 1)
})

test('throttle: a batch loses the items drawn, which come back in UnprocessedItems', async function (t) {
  // One draw for the fault (none), then one per item: items 1 and 3 held back.
  const { engine, call, stats } = await start(t, { conditions: { throttle: 0.5 } }, { random: scripted(0.9, 0.9, 0.1, 0.9, 0.2) })
  const answer = await call('BatchWriteItem', batch(4))
  assert.equal(answer.status, 200)
  assert.deepEqual(answer.data.UnprocessedItems.Books.map(function (r) { return r.PutRequest.Item.isbn.S }), ['k1', 'k3'])
  const written = engine.writes()[0].data.RequestItems.Books
  assert.deepEqual(written.map(function (r) { return r.PutRequest.Item.isbn.S }), ['k0', 'k2'])
  assert.equal(stats.throttled, 1)
})

test('the rewritten answer carries its own checksum', async function (t) {
  const zlib = require('node:zlib')
  const { call } = await start(t, { conditions: { throttle: 0.5 } }, { random: scripted(0.9, 0.1, 0.9) })
  const answer = await call('BatchWriteItem', batch(2))
  assert.equal(answer.headers['x-amz-crc32'], String(zlib.crc32(Buffer.from(JSON.stringify(answer.data)))))
})

test('throttle: a batch with every item held back is a 400, nothing written', async function (t) {
  const { engine, call } = await start(t, { conditions: { throttle: 1 } }, { random: scripted(0.9, 0.1, 0.1) })
  const answer = await call('BatchWriteItem', batch(2))
  assert.equal(answer.status, 400)
  assert.equal(answer.data.__type, PREFIX + 'ProvisionedThroughputExceededException')
  assert.deepEqual(engine.writes(), [])
})

test('reset: the connection closes before the write, or after it (the answer lost)', async function (t) {
  const { engine, call, stats } = await start(t, { conditions: { reset: 0.5 } }, { random: scripted(0.1, 0.2, 0.1, 0.8) })
  assert.deepEqual(await call('PutItem', { TableName: 'Books', Item: item('1') }), { reset: true })
  assert.deepEqual(engine.writes(), [])
  assert.deepEqual(await call('PutItem', { TableName: 'Books', Item: item('2') }), { reset: true })
  assert.deepEqual(engine.writes().map(function (c) { return c.data.Item.isbn.S }), ['2'])
  assert.equal(stats.resets, 2)
})

test('capacity: a batch writes what the burst holds; then a PutItem is refused with the reasons', async function (t) {
  const { engine, call, stats } = await start(t, { capacity: { mode: 'provisioned', wcu: 1 } }, { random: scripted() })
  await call('CreateTable', { TableName: 'Books', KeySchema: TABLE.KeySchema, AttributeDefinitions: TABLE.AttributeDefinitions })
  const first = await call('BatchWriteItem', batch(25, 15 * 1024)) // 16 WRU each, 300 WRU of burst: 18 fit
  assert.equal(first.status, 200)
  assert.equal(first.data.UnprocessedItems.Books.length, 7)
  assert.equal(engine.writes().filter(function (c) { return c.op === 'BatchWriteItem' })[0].data.RequestItems.Books.length, 18)
  const refused = await call('PutItem', { TableName: 'Books', Item: item('late', 15 * 1024) })
  assert.equal(refused.status, 400)
  assert.equal(refused.data.__type, PREFIX + 'ProvisionedThroughputExceededException')
  assert.deepEqual(refused.data.ThrottlingReasons.map(function (r) { return r.resource }), ['arn:aws:dynamodb:eu-west-1:000000000000:table/Books'])
  assert.equal(stats.throttled, 2)
})

test('latency: every request waits latency + jitter, summed in the stats', async function (t) {
  const delays = []
  const schedule = function (fn, ms) { delays.push(ms); setImmediate(fn) }
  const { call, stats } = await start(t, { conditions: { latency_ms: 20, jitter_ms: 10 } }, { random: scripted(0.5, 0.1), schedule })
  await call('ListTables', {})
  await call('ListTables', {})
  assert.deepEqual(delays, [25, 21])
  assert.equal(stats.injected_ms, 46)
})

test('a request of its own that comes back is refused at once (508)', async function (t) {
  const { proxy, engine, call, stats } = await start(t, {}, { proxyId: 'me' })
  const answer = await call('ListTables', {}, { [VIA_HEADER]: 'other, ' + proxy.state.proxyId })
  assert.equal(answer.status, 508)
  assert.match(answer.data.message, /its upstream leads to itself/)
  assert.deepEqual(engine.calls, [])
  assert.equal(stats.loops, 1)
})

test('a body over 16 MiB gets 413 without being read', async function (t) {
  const { engine, port, stats } = await start(t, {})
  const answer = await new Promise(function (resolve) {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'content-length': String(16 * 1024 * 1024 + 1) } }, function (res) {
      res.resume()
      resolve(res.statusCode)
    })
    req.on('error', function () {})
    req.write('{')
  })
  assert.equal(answer, 413)
  assert.deepEqual(engine.calls, [])
  assert.equal(stats.rejected, 1)
})

test('an engine that throws: one 500 answer, one line in the log, the proxy goes on', async function (t) {
  const { call, logged, stats } = await start(t, {})
  const answer = await call('Explode', {})
  assert.equal(answer.status, 500)
  assert.equal(answer.data.message, 'Internal server error')
  assert.equal(logged.length, 1)
  assert.match(logged[0], /^internal error: Error: the engine broke [^\n]*\n$/)
  assert.equal(stats.internal_errors, 1)
  assert.equal((await call('ListTables', {})).status, 200)
})

test('signature checks: a request signed with an unknown key is refused and counted by type', async function (t) {
  const { engine, call, stats } = await start(t, { credentials: { AKIDLAB: 'secret' } })
  const answer = await call('ListTables', {})
  assert.equal(answer.status, 400)
  assert.equal(answer.data.__type, 'com.amazon.coral.service#UnrecognizedClientException')
  assert.deepEqual(stats.auth_refused, { UnrecognizedClientException: 1 })
  assert.deepEqual(engine.calls, [])
})

test('the control endpoints answer through the same server, with the token', async function (t) {
  const { port } = await start(t, {})
  assert.equal((await request(port, '/__lab/conditions', { error: 0.5 }, { 'x-lab-token': TOKEN })).data.error, 0.5)
  assert.equal((await request(port, '/__lab/stats', undefined, { 'x-lab-token': TOKEN })).data.conditions.error, 0.5)
  assert.equal((await request(port, '/__lab/stats', undefined, {})).status, 403)
})

test('createProxy refuses bad settings in one line, before anything starts', function () {
  for (const [config, message] of [
    [{ conditions: { throttle: 2 } }, /fault throttle is a probability/],
    [{ conditions: null }, /conditions must be a JSON object/],
    [{ capacity: null }, /capacity/],
    [{ capacity: { mode: 'sometimes' } }, /mode/],
    [{ upstream: 'http://10.0.0.1:8000' }, /not a loopback address/],
    [{ credentials: {} }, /credentials must be a JSON object/],
    [{ tls: { cert: 'x' } }, /needs both a cert and a key/],
  ]) {
    assert.throws(function () { createProxy(config, { engine: fakeEngine() }) }, message)
  }
})
