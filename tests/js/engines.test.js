// Unit tests of the proxy's engines (core/servers/emulator/engines.js): dynalite in this process, and an upstream
// on 127.0.0.1 played by a small HTTP server of the test.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const { validUpstream, isLoopbackAddress, loopbackLookup, dynaliteEngine, dynaliteGap, upstreamEngine, VIA_HEADER } = require(path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'engines.js'))

function call (engine, req, body, options) {
  return new Promise(function (resolve) {
    engine(req, Buffer.from(body), options || {}, function (status, headers, answer) { resolve({ status, headers, answer: answer.toString() }) })
  })
}

const SIGNED = 'AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64)

function dynamo (op, headers) {
  return { method: 'POST', url: '/', headers: Object.assign({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.' + op, authorization: SIGNED, 'x-amz-date': '20250101T000000Z' }, headers) }
}

// A port nothing listens on (taken, then freed).
function freePort () {
  return new Promise(function (resolve) {
    const server = net.createServer().listen(0, '127.0.0.1', function () {
      const port = server.address().port
      server.close(function () { resolve(port) })
    })
  })
}

for (const [url, expected] of [
  ['http://127.0.0.1:8000', { hostname: '127.0.0.1', port: 8000, href: 'http://127.0.0.1:8000' }],
  ['http://localhost:4566/', { hostname: 'localhost', port: 4566, href: 'http://localhost:4566' }],
  ['http://[::1]:8000', { hostname: '::1', port: 8000, href: 'http://[::1]:8000' }],
  ['http://127.3.4.5', { hostname: '127.3.4.5', port: 80, href: 'http://127.3.4.5' }],
]) {
  test('upstream accepted: ' + url, function () { assert.deepEqual(validUpstream(url), expected) })
}

for (const [url, message] of [
  ['not a url', /invalid upstream URL "not a url"/],
  ['https://127.0.0.1:1', /only http:\/\/ upstreams/],
  ['http://a:secret@127.0.0.1:1', /must not contain credentials/],
  ['http://127.0.0.1:1/path', /must have no path/],
  ['http://127.0.0.1:1/?q=1', /must have no path/],
  ['http://10.0.0.1:8000', /10.0.0.1 is not a loopback address/],
  ['http://[fe80::1]:80', /is not a loopback address/],
  ['http://example.com:80', /is not a loopback address/],
]) {
  test('upstream refused: ' + url, function () {
    assert.throws(function () { validUpstream(url) }, function (err) { return message.test(err.message) && !/secret/.test(err.message) })
  })
}

test('loopback addresses: 127.0.0.0/8 and ::1 only', function () {
  for (const address of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(address), true, address)
  for (const address of ['10.0.0.1', '0.0.0.0', '::', 'fe80::1', '::ffff:10.0.0.1', 'localhost']) assert.equal(isLoopbackAddress(address), false, address)
})

test('localhost resolves to a loopback address', function (t, done) {
  loopbackLookup('localhost', {}, function (err, address) {
    assert.equal(err, null)
    assert.equal(isLoopbackAddress(address), true)
    done()
  })
})

test('dynalite answers in this process', async function () {
  const engine = dynaliteEngine()
  const listed = await call(engine, dynamo('ListTables'), '{}')
  assert.equal(listed.status, 200)
  assert.deepEqual(JSON.parse(listed.answer), { TableNames: [] })
  const unknown = await call(engine, dynamo('DescribeTable'), '{"TableName": "Nope"}')
  assert.equal(unknown.status, 400)
  assert.match(unknown.answer, /ResourceNotFoundException/)
})

test('dynalite: a body nested too deep gets DynamoDB\'s answer, not a crash', async function () {
  const deep = '{"TableName": "T", "Item": {"a": ' + '{"L": ['.repeat(20000) + '{"S": "x"}' + ']}'.repeat(20000) + '}}'
  const answer = await call(dynaliteEngine(), dynamo('PutItem'), deep)
  assert.equal(answer.status, 400)
  assert.match(answer.answer, /Nesting Levels have exceeded supported limits/)
})

test('the bodies that make dynalite throw, answered as DynamoDB answers them', function () {
  assert.match(dynaliteGap(new RangeError('stack'), Buffer.from('{}')).message, /Nesting Levels/)
  assert.deepEqual(dynaliteGap(new Error('x'), Buffer.from('[1]')), { __type: 'com.amazon.coral.service#SerializationException' })
  assert.match(dynaliteGap(new TypeError('null'), Buffer.from('{"Item": {"a": {"L": [null]}}}')).message, /a value is null/)
  assert.equal(dynaliteGap(new Error('other'), Buffer.from('{}')), null) // anything else: the caller's 500
  assert.equal(dynaliteGap(new TypeError('x'), Buffer.from('not json')), null)
})

test('upstream: headers passed on, but not the lab token nor hop-by-hop ones; the via header added', async function (t) {
  const seen = []
  const server = http.createServer(function (req, res) {
    const chunks = []
    req.on('data', function (c) { chunks.push(c) })
    req.on('end', function () {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), url: req.url })
      res.setHeader('x-amz-crc32', '1')
      res.end('{"TableNames": []}')
    })
  })
  await new Promise(function (resolve) { server.listen(0, '127.0.0.1', resolve) })
  t.after(function () { server.close() })
  const upstream = validUpstream('http://127.0.0.1:' + server.address().port)
  const unreachable = []
  const engine = upstreamEngine(upstream, 'proxy-2', function (err) { unreachable.push(err) })
  const answer = await call(engine, dynamo('ListTables', { host: 'dynamodb.example', 'x-lab-token': 'secret', 'proxy-authorization': 'x', [VIA_HEADER]: 'proxy-1' }), '{}', { transform: function (a) { return a } })
  assert.equal(answer.status, 200)
  assert.equal(answer.headers['x-amz-crc32'], '1')
  const got = seen[0]
  assert.equal(got.body, '{}')
  assert.equal(got.headers.host, 'dynamodb.example') // what the client signed
  assert.equal(got.headers['x-lab-token'], undefined)
  assert.equal(got.headers['proxy-authorization'], undefined)
  assert.equal(got.headers[VIA_HEADER], 'proxy-1, proxy-2')
  assert.equal(got.headers['accept-encoding'], 'identity') // an answer to rewrite comes uncompressed
  assert.deepEqual(unreachable, [])
})

test('upstream: an endpoint that does not answer gets 502 naming it, and is counted', async function () {
  const port = await freePort()
  const unreachable = []
  const engine = upstreamEngine(validUpstream('http://127.0.0.1:' + port), 'p', function (err) { unreachable.push(err.code) })
  const answer = await call(engine, dynamo('ListTables'), '{}')
  assert.equal(answer.status, 502)
  assert.match(JSON.parse(answer.answer).message, new RegExp('could not reach its engine at http://127.0.0.1:' + port + ' \\(ECONNREFUSED\\)'))
  assert.deepEqual(unreachable, ['ECONNREFUSED'])
})

test('upstream: an answer cut off is a 502, never a half answer', async function (t) {
  const server = http.createServer(function (req, res) {
    res.writeHead(200, { 'content-length': '100' })
    res.write('{"Table')
    setImmediate(function () { res.destroy() })
  })
  await new Promise(function (resolve) { server.listen(0, '127.0.0.1', resolve) })
  t.after(function () { server.close() })
  const engine = upstreamEngine(validUpstream('http://127.0.0.1:' + server.address().port), 'p', function () {})
  const answer = await call(engine, dynamo('ListTables'), '{}')
  assert.equal(answer.status, 502)
})
