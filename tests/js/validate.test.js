// Unit tests of the write validation that comes before any injected condition (core/servers/emulator/validate.js): run with
// `node --test "tests/js/*.test.js"` (tests/integration/test_capacity.py runs them under pytest).
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { requestError, keyError, createTables, scopeOf } = require(path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'validate.js'))

const TABLE = {
  TableName: 'Books',
  TableStatus: 'ACTIVE',
  KeySchema: [{ AttributeName: 'isbn', KeyType: 'HASH' }],
  AttributeDefinitions: [{ AttributeName: 'isbn', AttributeType: 'S' }],
}
const TABLES = new Map([['Books', TABLE], ['Gone', null]])

function puts (count, table) {
  return { RequestItems: { [table || 'Books']: Array.from({ length: count }, function (_, i) { return { PutRequest: { Item: { isbn: { S: String(i) } } } } }) } }
}

const big = { isbn: { S: '1' }, blob: { S: 'x'.repeat(400 * 1024) } }

// [name, op, body, message (a regex) or null when valid, answered by the proxy itself]
const CASES = [
  ['a valid put', 'PutItem', { TableName: 'Books', Item: { isbn: { S: '1' } } }, null],
  ['a valid batch of 25', 'BatchWriteItem', puts(25), null],
  ['26 requests for one table', 'BatchWriteItem', puts(26), /Member must have length less than or equal to 25/],
  ['26 requests over two tables', 'BatchWriteItem', { RequestItems: Object.assign(puts(13).RequestItems, puts(13, 'Other').RequestItems) }, /Too many items requested for the BatchWriteItem call/, true],
  ['a duplicate key', 'BatchWriteItem', { RequestItems: { Books: [puts(1).RequestItems.Books[0], puts(1).RequestItems.Books[0]] } }, /contains duplicates/],
  ['a put and a delete of one key', 'BatchWriteItem', { RequestItems: { Books: [puts(1).RequestItems.Books[0], { DeleteRequest: { Key: { isbn: { S: '0' } } } }] } }, /contains duplicates/],
  ['an item without its key', 'PutItem', { TableName: 'Books', Item: { title: { S: 't' } } }, /Missing the key isbn/],
  ['a batch item without its key', 'BatchWriteItem', { RequestItems: { Books: [{ PutRequest: { Item: { title: { S: 't' } } } }] } }, /Missing the key isbn/],
  ['a key of the wrong type', 'PutItem', { TableName: 'Books', Item: { isbn: { N: '1' } } }, /Type mismatch for key isbn expected: S actual: N/],
  ['a delete key of the wrong type', 'BatchWriteItem', { RequestItems: { Books: [{ DeleteRequest: { Key: { isbn: { N: '1' } } } }] } }, /key element does not match the schema/],
  ['an empty string key', 'PutItem', { TableName: 'Books', Item: { isbn: { S: '' } } }, /empty string/],
  ['a missing table', 'PutItem', { TableName: 'Gone', Item: { isbn: { S: '1' } } }, /Requested resource not found/],
  ['a batch for a missing table', 'BatchWriteItem', puts(2, 'Gone'), /Requested resource not found/],
  ['an item over 400 KB', 'PutItem', { TableName: 'Books', Item: big }, /Item size has exceeded the maximum allowed size/],
  ['a batch item over 400 KB', 'BatchWriteItem', { RequestItems: { Books: [{ PutRequest: { Item: big } }] } }, /Item size has exceeded the maximum allowed size/],
  ['a number that is not one', 'PutItem', { TableName: 'Books', Item: { isbn: { S: '1' }, n: { N: 'abc' } } }, /cannot be converted to a numeric value/],
  ['an attribute with two types', 'PutItem', { TableName: 'Books', Item: { isbn: { S: '1' }, a: { S: 'x', N: '1' } } }, /more than one datatypes/],
  ['a bad table name', 'PutItem', { TableName: 'a', Item: { isbn: { S: '1' } } }, /tableName/],
  ['an unknown table (no description): only the shape is checked', 'PutItem', { TableName: 'Unknown', Item: { isbn: { N: '1' } } }, null],
]

for (const [name, op, body, message, answered] of CASES) {
  test('validation: ' + name, function () {
    const before = JSON.stringify(body)
    const error = requestError(op, body) || keyError(op, body, TABLES)
    assert.equal(JSON.stringify(body), before) // the request is not changed (it may be forwarded as it is)
    if (message === null) return assert.equal(error, null)
    assert.ok(error, 'expected an error matching ' + message)
    assert.equal(error.status, 400)
    assert.match(error.body.message, message)
    assert.equal(error.answer, Boolean(answered))
  })
}

test('a table described once is kept per credential scope until forgotten or stale', function () {
  const asked = []
  const pending = []
  let now = 0
  const tables = createTables(function (req, name, done) { asked.push(name); pending.push(done) }, function () { return now }, 1000)
  const req = { headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x' } }
  const found = []
  tables.lookup(req, ['Books'], function (t) { found.push(t.get('Books')) })
  tables.lookup(req, ['Books'], function (t) { found.push(t.get('Books')) }) // waits for the same DescribeTable
  assert.deepEqual(asked, ['Books'])
  pending.shift()(200, { Table: TABLE })
  assert.deepEqual(found, [TABLE, TABLE])
  tables.lookup(req, ['Books'], function (t) { found.push(t.get('Books')) })
  assert.equal(asked.length, 1) // kept
  tables.lookup({ headers: {} }, ['Books'], function () {})
  assert.equal(asked.length, 2) // another scope: its own database on DynamoDB Local
  pending.shift()(200, { Table: TABLE })
  tables.forget('Books')
  tables.lookup(req, ['Books'], function (t) { found.push(t.get('Books')) })
  assert.equal(asked.length, 3)
  pending.shift()(400, { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException' })
  assert.equal(found.at(-1), null) // missing, and not kept
  tables.lookup(req, ['Books'], function () {})
  pending.shift()(500, null) // unknown: undefined, not kept
  tables.lookup(req, ['Books'], function (t) { found.push(t.get('Books')) })
  pending.shift()(200, { Table: TABLE })
  now = 1001
  tables.lookup(req, ['Books'], function () {})
  assert.equal(asked.length, 6) // stale after the TTL
  pending.shift()(200, { Table: Object.assign({}, TABLE, { TableStatus: 'CREATING' }) })
  tables.lookup(req, ['Books'], function (t) { found.push(t.get('Books')) })
  pending.shift()(200, { Table: Object.assign({}, TABLE, { TableStatus: 'DELETING' }) })
  assert.equal(found.at(-1), null) // not usable: the engine answers the write
})

test('a DescribeTable out while the table is forgotten is not kept', function () {
  const pending = []
  const tables = createTables(function (req, name, done) { pending.push(done) }, function () { return 0 }, 1000)
  tables.lookup({ headers: {} }, ['Books'], function () {})
  tables.forget('Books')
  pending.shift()(200, { Table: TABLE })
  tables.lookup({ headers: {} }, ['Books'], function () {})
  assert.equal(pending.length, 1)
})

test('the credential scope is the access key and region', function () {
  assert.equal(scopeOf({ headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/dynamodb/aws4_request' } }), 'AK/eu-west-1')
  assert.equal(scopeOf({ headers: {} }), '')
})
