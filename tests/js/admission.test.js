// Unit tests of capacity admission (core/servers/emulator/admission.js) with a fake clock.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { createAdmission, chargeOf, batchChargeOf, capacityRefusal } = require(path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'admission.js'))

const CLOCK = function () { return 1000 }
const PREFIX = 'com.amazonaws.dynamodb.v20120810#'

function put (isbn, bytes) {
  return { PutRequest: { Item: { isbn: { S: isbn }, blob: { S: 'x'.repeat(bytes || 1) } } } }
}

test('a write is charged its key and its units', function () {
  const item = { isbn: { S: '978' }, blob: { S: 'x'.repeat(2000) } }
  assert.deepEqual(chargeOf('isbn', item, 3), { key: '{"S":"978"}', wru: 2 })
  assert.deepEqual(chargeOf(undefined, { a: { S: 'b' } }, 3), { key: '{"a":{"S":"b"}}', wru: 1 }) // no known key: the item
  assert.deepEqual(chargeOf('isbn', { other: { S: 'b' } }, 4), { key: 'item 4', wru: 1 }) // its key missing: its position
  assert.deepEqual(batchChargeOf('isbn', { DeleteRequest: { Key: { isbn: { S: '1' } } } }, 0), { key: '{"S":"1"}', wru: 1 })
  assert.deepEqual(batchChargeOf('isbn', put('2', 5000), 0), { key: '{"S":"2"}', wru: 5 })
})

test('a write too deep to serialise is charged by its position, one unit', function () {
  let deep = { S: 'x' }
  for (let i = 0; i < 100000; i++) deep = { M: { a: deep } }
  assert.deepEqual(chargeOf('isbn', { isbn: deep }, 7), { key: 'item 7', wru: 1 })
})

test('the refusal names the region the request was signed for', function () {
  const refused = [{ index: 0, reason: 'TableWriteProvisionedThroughputExceeded' }]
  const signed = 'AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-3/dynamodb/aws4_request, SignedHeaders=host, Signature=00'
  const answer = capacityRefusal(refused, 'Books', signed)
  assert.equal(answer.__type, PREFIX + 'ProvisionedThroughputExceededException')
  assert.deepEqual(answer.ThrottlingReasons, [{ reason: 'TableWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:eu-west-3:000000000000:table/Books' }])
  assert.match(capacityRefusal(refused, 'Books', undefined).ThrottlingReasons[0].resource, /:us-east-1:/)
})

test('an on-demand cap is a ThrottlingException, each reason once', function () {
  const refused = [{ index: 0, reason: 'TableWriteMaxOnDemandThroughputExceeded' }, { index: 1, reason: 'TableWriteMaxOnDemandThroughputExceeded' }]
  const answer = capacityRefusal(refused, 'T')
  assert.equal(answer.__type, PREFIX + 'ThrottlingException')
  assert.equal(answer.ThrottlingReasons.length, 1)
})

test('off: nothing is charged, every batch item accepted', function () {
  const admission = createAdmission({ mode: 'off' }, CLOCK)
  assert.equal(admission.on, false)
  assert.equal(admission.admitPut('T', { isbn: { S: '1' } }), null)
  assert.deepEqual(admission.admitBatch('T', [put('1'), put('2')]), { accepted: [0, 1], refused: [] })
  assert.equal(admission.stats().consumed_wru, 0)
})

test('provisioned: a batch takes what the burst holds; the rest is refused in order', function () {
  const admission = createAdmission({ mode: 'provisioned', wcu: 1 }, CLOCK) // 300 WRU of burst
  const batch = Array.from({ length: 25 }, function (_, i) { return put('k' + i, 15 * 1024) }) // 16 WRU each
  const verdict = admission.admitBatch('T', batch)
  assert.equal(verdict.accepted.length, 18) // 18 x 16 = 288 <= 300
  assert.deepEqual(verdict.refused.map(function (r) { return r.index }), [18, 19, 20, 21, 22, 23, 24])
  assert.equal(admission.admitPut('T', put('z', 15 * 1024).PutRequest.Item).refused.length, 1)
  assert.equal(admission.stats().consumed_wru, 288)
})

test('configure starts every table afresh; a bad config leaves the model as it was', function () {
  const admission = createAdmission({ mode: 'provisioned', wcu: 1 }, CLOCK)
  admission.admitBatch('T', Array.from({ length: 25 }, function (_, i) { return put('k' + i, 15 * 1024) }))
  assert.throws(function () { admission.configure({ mode: 'sometimes' }) })
  assert.equal(admission.config.wcu, 1)
  assert.deepEqual(admission.configure({ mode: 'on-demand' }), { mode: 'on-demand' })
  assert.equal(admission.on, true)
  assert.deepEqual(admission.stats().tables, {})
  assert.equal(admission.model().config.mode, 'on-demand') // what bulk put reads
})

test('a created or deleted table starts afresh; an updated one keeps its model', function () {
  const admission = createAdmission({ mode: 'provisioned', wcu: 1 }, CLOCK)
  const item = put('a', 15 * 1024).PutRequest.Item
  admission.admitPut('T', item)
  admission.tableChanged('UpdateTable', { TableName: 'T' })
  assert.equal(admission.stats().tables.T.consumed_wru, 16)
  admission.tableChanged('DeleteTable', { TableName: 'T' })
  assert.equal(admission.stats().tables.T, undefined)
  admission.tableChanged('CreateTable', 'not an object') // ignored
})

test('a created table tells admission its partition key: writes are charged by that key', function () {
  // On demand, 4,000 WRU/s over 4 partitions of 1,000: many writes of one key fill one partition only.
  const admission = createAdmission({ mode: 'on-demand' }, CLOCK)
  admission.tableChanged('CreateTable', { TableName: 'T', KeySchema: [{ AttributeName: 'isbn', KeyType: 'HASH' }] })
  const sameKey = Array.from({ length: 25 }, function (_, i) { return { PutRequest: { Item: { isbn: { S: 'one' }, n: { N: String(i) }, blob: { S: 'x'.repeat(50 * 1024) } } } } })
  const verdict = admission.admitBatch('T', sameKey) // 51 WRU each: one partition takes 19 (969 WRU)
  assert.equal(verdict.accepted.length, 19)
  assert.ok(verdict.refused.every(function (r) { return r.reason === 'TableWriteKeyRangeThroughputExceeded' }))
  const other = createAdmission({ mode: 'on-demand' }, CLOCK) // no key learnt: each item is its own key
  assert.equal(other.admitBatch('T', sameKey).accepted.length, 25)
})
