// Unit tests of the proxy's SigV4 check (core/servers/emulator/auth.js), with the clock passed in: run with
// `node --test "tests/js/*.test.js"` (tests/integration/test_capacity.py runs them under pytest).
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const aws4 = require('aws4')
const { createAuth, parseAmzDate, formatAmzDate, skewed } = require(path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'auth.js'))

// Cases of AWS's official SigV4 test suite (aws-sig-v4-test-suite, Apache-2.0, as vendored by botocore in
// tests/unit/auth/aws4_testsuite): key AKIDEXAMPLE, its secret, 2015-08-30 12:36:00 UTC, us-east-1, service "service".
const SUITE_KEY = { AKIDEXAMPLE: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const SUITE_NOW = Date.UTC(2015, 7, 30, 12, 36, 0)
const SCOPE = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, '
const SUITE = [
  { name: 'get-vanilla', method: 'GET', url: '/', headers: {}, body: '',
    authz: SCOPE + 'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'post-vanilla', method: 'POST', url: '/', headers: {}, body: '',
    authz: SCOPE + 'SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'get-vanilla-query-order-key-case', method: 'GET', url: '/?Param2=value2&Param1=value1', headers: {}, body: '',
    authz: SCOPE + 'SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
  { name: 'post-x-www-form-urlencoded', method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'Param1=value1',
    authz: SCOPE + 'SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a' },
]

// A request as Node's http server hands it over: lower-case header names.
function incoming (method, url, headers) {
  const lower = {}
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value
  return { method, url, headers: lower }
}

function suiteRequest (c, change) {
  const headers = Object.assign({ host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z', authorization: c.authz }, c.headers, change)
  return incoming(c.method, c.url, headers)
}

test('the official test suite signatures are accepted', function () {
  const check = createAuth(SUITE_KEY)
  for (const c of SUITE) {
    assert.equal(check(suiteRequest(c), Buffer.from(c.body), SUITE_NOW), null, c.name)
  }
})

test('a changed body, header or path is InvalidSignatureException with AWS message', function () {
  const check = createAuth(SUITE_KEY)
  const c = SUITE[3]
  for (const [request, body] of [
    [suiteRequest(c), Buffer.from('Param1=value2')],
    [suiteRequest(c, { 'content-type': 'text/plain' }), Buffer.from(c.body)],
    [incoming('POST', '/other', Object.assign({}, suiteRequest(c).headers)), Buffer.from(c.body)],
  ]) {
    const refused = check(request, body, SUITE_NOW)
    assert.equal(refused.status, 400)
    assert.equal(refused.body.__type, 'com.amazon.coral.service#InvalidSignatureException')
    assert.match(refused.body.message, /^The request signature we calculated does not match the signature you provided\./)
  }
})

// A DynamoDB request signed by aws4 (as a client would sign it) at `nowMs` with `secret`.
function dynamodbRequest (keyId, secret, nowMs) {
  const body = JSON.stringify({ TableName: 'Books', Item: { isbn: { S: '1' } } })
  const signed = aws4.sign({
    host: '127.0.0.1:8443', method: 'POST', path: '/', service: 'dynamodb', region: 'eu-west-1', body,
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.PutItem', 'X-Amz-Date': formatAmzDate(nowMs) },
  }, { accessKeyId: keyId, secretAccessKey: secret })
  return { request: incoming('POST', '/', signed.headers), body: Buffer.from(body) }
}

const NOW = Date.UTC(2026, 10, 29, 12, 0, 0)
const KEYS = { AKIDLAB: 'the-secret', AKIDOTHER: 'another-secret' }

test('each configured key pair passes; a wrong secret does not', function () {
  const check = createAuth(KEYS)
  for (const [id, secret] of Object.entries(KEYS)) {
    const { request, body } = dynamodbRequest(id, secret, NOW)
    assert.equal(check(request, body, NOW), null, id)
  }
  const { request, body } = dynamodbRequest('AKIDLAB', 'another-secret', NOW)
  assert.equal(check(request, body, NOW).body.__type, 'com.amazon.coral.service#InvalidSignatureException')
})

test('an unknown access key is UnrecognizedClientException', function () {
  const { request, body } = dynamodbRequest('AKIDNOBODY', 'the-secret', NOW)
  const refused = createAuth(KEYS)(request, body, NOW)
  assert.deepEqual(refused, { status: 400, body: {
    __type: 'com.amazon.coral.service#UnrecognizedClientException',
    message: 'The security token included in the request is invalid.' } })
})

test('a request dated more than 5 minutes away is refused with AWS wording, within 5 minutes it passes', function () {
  const check = createAuth(KEYS)
  const minute = 60 * 1000
  for (const offset of [-5 * minute, -4 * minute, 0, 5 * minute]) {
    const { request, body } = dynamodbRequest('AKIDLAB', 'the-secret', NOW + offset)
    assert.equal(check(request, body, NOW), null, 'offset ' + offset)
  }
  let { request, body } = dynamodbRequest('AKIDLAB', 'the-secret', NOW - 7 * minute)
  let refused = check(request, body, NOW)
  assert.equal(refused.body.__type, 'com.amazon.coral.service#InvalidSignatureException')
  assert.equal(refused.body.message,
    'Signature expired: 20261129T115300Z is now earlier than 20261129T115500Z (20261129T120000Z - 5 min.)')
  ;({ request, body } = dynamodbRequest('AKIDLAB', 'the-secret', NOW + 6 * minute))
  refused = check(request, body, NOW)
  assert.equal(refused.body.message,
    'Signature not yet current: 20261129T120600Z is still later than 20261129T120500Z (20261129T120000Z + 5 min.)')
})

test('a missing or malformed Authorization header is refused as DynamoDB does', function () {
  const check = createAuth(KEYS)
  const { request, body } = dynamodbRequest('AKIDLAB', 'the-secret', NOW)
  const without = incoming('POST', '/', Object.assign({}, request.headers, { authorization: undefined }))
  delete without.headers.authorization
  assert.equal(check(without, body, NOW).body.__type, 'com.amazon.coral.service#MissingAuthenticationTokenException')
  for (const authorization of ['Basic dXNlcjpwYXNz', 'AWS4-HMAC-SHA256 Credential=AKIDLAB/20261129/eu-west-1/dynamodb/aws4_request']) {
    const bad = incoming('POST', '/', Object.assign({}, request.headers, { authorization }))
    assert.equal(check(bad, body, NOW).body.__type, 'com.amazon.coral.service#IncompleteSignatureException')
  }
  const undated = incoming('POST', '/', Object.assign({}, request.headers))
  delete undated.headers['x-amz-date']
  assert.equal(check(undated, body, NOW).body.__type, 'com.amazon.coral.service#IncompleteSignatureException')
})

test('a signed header the request does not carry is a mismatch, not a crash', function () {
  const { request, body } = dynamodbRequest('AKIDLAB', 'the-secret', NOW)
  delete request.headers['x-amz-target']
  assert.equal(createAuth(KEYS)(request, body, NOW).body.__type, 'com.amazon.coral.service#InvalidSignatureException')
})

test('no refusal ever carries a secret', function () {
  const check = createAuth(KEYS)
  for (const [id, secret, at] of [['AKIDLAB', 'wrong', NOW], ['AKIDNOBODY', 'x', NOW], ['AKIDLAB', 'the-secret', NOW - 3600000]]) {
    const { request, body } = dynamodbRequest(id, secret, at)
    const text = JSON.stringify(check(request, body, NOW))
    assert.ok(!text.includes('the-secret') && !text.includes('another-secret'), text)
  }
})

test('bad key configuration is refused at start', function () {
  for (const bad of [null, [], {}, { 'bad key': 's' }, { AKID: '' }, { AKID: 3 }]) {
    assert.throws(function () { createAuth(bad) }, /credential/)
  }
})

test('dates: parsed, formatted, and the 5 minute window', function () {
  assert.equal(parseAmzDate('20150830T123600Z'), SUITE_NOW)
  assert.equal(formatAmzDate(SUITE_NOW), '20150830T123600Z')
  for (const bad of ['', '2015-08-30T12:36:00Z', '20151330T123600Z', undefined]) assert.equal(parseAmzDate(bad), null, String(bad))
  assert.equal(skewed(SUITE_NOW + 300000, SUITE_NOW), null)
  assert.match(skewed(SUITE_NOW - 300001, SUITE_NOW), /^Signature expired: /)
})
