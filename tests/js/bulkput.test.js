// Unit tests of the bulk put emulation (core/servers/emulator/bulkput.js) on a fake clock, a fake S3 and an in-memory engine:
// run with `node --test "tests/js/*.test.js"` (tests/integration/test_bulkput_emulation.py runs them under pytest).
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const zlib = require('node:zlib')
const { createBulk, checkLine } = require(path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'bulkput.js'))

const KEYS = [{ name: 'isbn', type: 'S', hash: true }]

function world (options) {
  options = options || {}
  const clock = function () { return clock.now }
  clock.now = 1000
  const sleep = function (ms) { clock.now += ms / 1000; return new Promise(setImmediate) }
  const objects = new Map() // 'bucket/key' -> Buffer
  const s3 = {
    list: async function (bucket, prefix) {
      if (bucket === 'missing') throw Object.assign(new Error('no such bucket'), { code: 'S3NoSuchBucket' })
      return Array.from(objects.keys()).filter(function (k) { return k.startsWith(bucket + '/' + prefix) })
        .sort().map(function (k) { return { key: k.slice(bucket.length + 1), size: objects.get(k).length } })
    },
    get: async function (bucket, key) { return objects.get(bucket + '/' + key) },
    put: async function (bucket, key, body) { objects.set(bucket + '/' + key, body) },
  }
  const table = new Map()
  const calls = []
  const engine = async function (op, data) {
    calls.push(op)
    if (op === 'DescribeTable') {
      if (data.TableName !== 'Books') return { status: 400, data: { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException' } }
      return { status: 200, data: { Table: { TableName: 'Books', TableStatus: options.tableStatus || 'ACTIVE', KeySchema: [{ AttributeName: 'isbn', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'isbn', AttributeType: 'S' }] } } }
    }
    for (const r of data.RequestItems.Books) table.set(r.PutRequest.Item.isbn.S, r.PutRequest.Item)
    return { status: 200, data: { UnprocessedItems: {} } }
  }
  const bulk = createBulk({ engine, clock, sleep, s3, capacity: function () { return options.capacity || null } })
  bulk.configure({ rates: { STANDARD: 1000, ACCELERATED: 10000 } })
  return { bulk, clock, objects, table, calls }
}

function book (i) {
  return { Item: { isbn: { S: String(9780000000000 + i) }, title: { S: 'Title ' + i } } }
}

function upload (w, lines, key) {
  w.objects.set('in/books/' + (key || 'part-00000.json.gz'), zlib.gzipSync(Buffer.from(lines.join('\n') + '\n')))
}

function startBody (extra) {
  return Object.assign({
    TableName: 'Books',
    InputS3Configuration: { S3Bucket: 'in', S3KeyPrefix: 'books/', InputFormat: 'DYNAMODB_JSON', InputCompressionType: 'GZIP' },
    OutputS3Configuration: { S3Bucket: 'out', S3KeyPrefix: 'reports/', OutputType: ['ERROR'] },
  }, extra)
}

async function runToEnd (w, body) {
  const started = await w.bulk.handle('StartBulkPutItems', body)
  assert.equal(started.status, 200, JSON.stringify(started.data))
  const arn = started.data.BulkOperationDescription.BulkOperationArn
  await w.bulk.operations.get(arn).done
  return (await w.bulk.handle('DescribeBulkOperation', { BulkOperationArn: arn })).data.BulkOperationDescription
}

test('every valid line is written: COMPLETED, counts and bytes', async function () {
  const w = world()
  const lines = Array.from({ length: 60 }, function (_, i) { return JSON.stringify(book(i)) })
  upload(w, lines.slice(0, 30), 'part-00000.json.gz')
  upload(w, lines.slice(30), 'part-00001.json.gz')
  const first = await w.bulk.handle('StartBulkPutItems', startBody())
  assert.equal(first.data.BulkOperationDescription.BulkOperationStatus, 'IN_PROGRESS')
  assert.equal(first.data.BulkOperationDescription.EndTime, undefined)
  const arn = first.data.BulkOperationDescription.BulkOperationArn
  await w.bulk.operations.get(arn).done
  const done = (await w.bulk.handle('DescribeBulkOperation', { BulkOperationArn: arn })).data.BulkOperationDescription
  assert.equal(done.BulkOperationStatus, 'COMPLETED')
  assert.equal(done.ProcessedItemCount, 60)
  assert.equal(done.FailedItemCount, 0)
  assert.equal(w.table.size, 60)
  assert.equal(done.ProcessedInputBytes, done.TotalInputBytes)
  assert.ok(done.BulkOperationUsage[0].BulkPutBytes > 60 * 20)
  assert.ok(done.EndTime >= done.StartTime)
  assert.equal(done.FailureCode, undefined)
  assert.equal(Array.from(w.objects.keys()).filter(function (k) { return k.startsWith('out/') }).length, 0)
})

test('malformed, keyless, wrong-typed and oversized lines: ERROR report lines, COMPLETED_WITH_ERRORS', async function () {
  const w = world()
  const lines = Array.from({ length: 20 }, function (_, i) { return JSON.stringify(book(i)) })
  lines[3] = lines[3].slice(0, -5) // cut off: malformed JSON
  lines[7] = JSON.stringify({ Item: { title: { S: 'no key' } } })
  lines[11] = JSON.stringify({ Item: { isbn: { N: '42' } } })
  lines[15] = JSON.stringify({ Item: { isbn: { S: '9781' }, blob: { S: 'x'.repeat(400 * 1024) } } })
  upload(w, lines)
  const done = await runToEnd(w, startBody())
  assert.equal(done.BulkOperationStatus, 'COMPLETED_WITH_ERRORS')
  assert.equal(done.ProcessedItemCount, 20)
  assert.equal(done.FailedItemCount, 4)
  assert.equal(w.table.size, 16)
  const reports = Array.from(w.objects.keys()).filter(function (k) { return k.startsWith('out/reports/') })
  assert.equal(reports.length, 1)
  assert.match(reports[0], /^out\/reports\/[0-9a-f]{16}\/ERROR\/part-00000\.jsonl$/)
  const reported = w.objects.get(reports[0]).toString().trim().split('\n').map(JSON.parse)
  assert.deepEqual(reported.map(function (r) { return [r.LineNumber, r.ErrorCode] }),
    [[4, 'ParseError'], [8, 'ValidationError'], [12, 'ValidationError'], [16, 'ValidationError']])
  assert.match(reported[0].Line, /"isbn":\{"S":"9780000000003"\}/)
  assert.match(reported[2].ErrorMessage, /Type mismatch for key isbn expected: S actual: N/)
  assert.match(reported[3].ErrorMessage, /maximum allowed size/)
  assert.equal(reported[3].Line.length, 1024)
})

test('checkLine: each of DynamoDB\'s refusals', function () {
  const cases = [
    ['{"Item":{"isbn":{"S":"1"}}}', null],
    ['{"Item":{"isbn":{"S":"1"}', 'ParseError'],
    ['{"isbn":{"S":"1"}}', 'ParseError'],
    ['{"Item":{"isbn":{"S":""}}}', 'ValidationError'],
    ['{"Item":{"isbn":{"X":"1"}}}', 'ValidationError'],
    ['{"Item":{"title":{"S":"t"}}}', 'ValidationError'],
  ]
  for (const [line, code] of cases) {
    const verdict = checkLine(line, KEYS)
    assert.equal(verdict.code || null, code, line)
  }
})

test('the rate: the tier\'s assumed target, capped by MaxWriteRequestUnits', async function () {
  const lines = Array.from({ length: 4000 }, function (_, i) { return JSON.stringify(book(i)) })
  const seconds = {}
  for (const [name, extra] of [['standard', {}], ['accelerated', { PerformanceTier: 'ACCELERATED' }],
    ['capped', { PerformanceTier: 'ACCELERATED', MaxWriteRequestUnits: 2000 }]]) {
    const w = world()
    upload(w, lines)
    const done = await runToEnd(w, startBody(extra))
    assert.equal(done.ProcessedItemCount, 4000)
    seconds[name] = done.EndTime - done.StartTime
  }
  // 4,000 one-WRU items: 1,000 WRU/s (STANDARD, assumed here) -> about 4 s; 10,000 -> 0.4 s; capped at 2,000 -> 2 s
  assert.ok(seconds.standard > 3.5 && seconds.standard < 4.5, JSON.stringify(seconds))
  assert.ok(seconds.accelerated < 0.6, JSON.stringify(seconds))
  assert.ok(seconds.capped > 1.7 && seconds.capped < 2.3, JSON.stringify(seconds))
})

test('ClientToken: the same operation for the same parameters; a mismatch for others; a new one after 8 hours', async function () {
  const w = world()
  upload(w, [JSON.stringify(book(1))])
  const a = await w.bulk.handle('StartBulkPutItems', startBody({ ClientToken: 't-1' }))
  const b = await w.bulk.handle('StartBulkPutItems', startBody({ ClientToken: 't-1', PerformanceTier: 'STANDARD' }))
  assert.equal(b.data.BulkOperationDescription.BulkOperationArn, a.data.BulkOperationDescription.BulkOperationArn)
  assert.equal(b.data.BulkOperationDescription.ClientToken, 't-1')
  const c = await w.bulk.handle('StartBulkPutItems', startBody({ ClientToken: 't-1', MaxWriteRequestUnits: 2048 }))
  assert.equal(c.status, 400)
  assert.match(c.data.__type, /IdempotentParameterMismatchException$/)
  assert.equal(w.bulk.operations.size, 1)
  w.clock.now += 8 * 3600 + 1
  const d = await w.bulk.handle('StartBulkPutItems', startBody({ ClientToken: 't-1', MaxWriteRequestUnits: 2048 }))
  assert.equal(d.status, 200)
  assert.notEqual(d.data.BulkOperationDescription.BulkOperationArn, a.data.BulkOperationDescription.BulkOperationArn)
})

test('cancel: CANCELLING at once, CANCELLED after the batch in flight; written items stay', async function () {
  const w = world()
  upload(w, Array.from({ length: 3000 }, function (_, i) { return JSON.stringify(book(i)) }))
  const started = await w.bulk.handle('StartBulkPutItems', startBody())
  const arn = started.data.BulkOperationDescription.BulkOperationArn
  const op = w.bulk.operations.get(arn)
  while (op.processed < 500) await new Promise(setImmediate)
  const answer = await w.bulk.handle('CancelBulkOperation', { BulkOperationArn: arn })
  assert.deepEqual(answer.data, { BulkOperationArn: arn, BulkOperationStatus: 'CANCELLING' })
  assert.equal((await w.bulk.handle('DescribeBulkOperation', { BulkOperationArn: arn })).data.BulkOperationDescription.BulkOperationStatus, 'CANCELLING')
  await op.done
  const done = (await w.bulk.handle('DescribeBulkOperation', { BulkOperationArn: arn })).data.BulkOperationDescription
  assert.equal(done.BulkOperationStatus, 'CANCELLED')
  assert.ok(done.FailureCode && done.EndTime)
  assert.ok(done.ProcessedItemCount >= 500 && done.ProcessedItemCount < 3000)
  assert.equal(w.table.size, done.ProcessedItemCount)
  const again = await w.bulk.handle('CancelBulkOperation', { BulkOperationArn: arn })
  assert.equal(again.status, 400)
})

test('refusals: validation, a missing table, a table not ACTIVE, an unknown ARN', async function () {
  const w = world()
  const cases = [
    [startBody({ MaxWriteRequestUnits: 1023 }), /ValidationException$/],
    [startBody({ PerformanceTier: 'FAST' }), /ValidationException$/],
    [Object.assign(startBody(), { OutputS3Configuration: { S3Bucket: 'out', OutputType: [] } }), /ValidationException$/],
    [startBody({ TableName: 'Nope' }), /ResourceNotFoundException$/],
  ]
  for (const [body, type] of cases) {
    const answer = await w.bulk.handle('StartBulkPutItems', body)
    assert.equal(answer.status, 400)
    assert.match(answer.data.__type, type)
  }
  const busy = world({ tableStatus: 'UPDATING' })
  assert.match((await busy.bulk.handle('StartBulkPutItems', startBody())).data.__type, /ResourceInUseException$/)
  for (const op of ['DescribeBulkOperation', 'CancelBulkOperation']) {
    assert.match((await w.bulk.handle(op, { BulkOperationArn: 'arn:aws:dynamodb:us-east-1:0:table/x/bulk-operation/y' })).data.__type, /ResourceNotFoundException$/)
  }
})

test('a bucket that cannot be listed: FAILED with S3\'s code', async function () {
  const w = world()
  const body = startBody()
  body.InputS3Configuration.S3Bucket = 'missing'
  const done = await runToEnd(w, body)
  assert.equal(done.BulkOperationStatus, 'FAILED')
  assert.equal(done.FailureCode, 'S3NoSuchBucket')
})

test('list: newest first, pages with a hex NextToken', async function () {
  const w = world()
  upload(w, [JSON.stringify(book(1))])
  const arns = []
  for (let i = 0; i < 3; i++) {
    w.clock.now += 10
    arns.push((await w.bulk.handle('StartBulkPutItems', startBody({ ClientToken: 'list-' + i }))).data.BulkOperationDescription.BulkOperationArn)
  }
  const first = (await w.bulk.handle('ListBulkOperations', { MaxResults: 2 })).data
  assert.deepEqual(first.BulkOperationsSummaryList.map(function (s) { return s.BulkOperationArn }), [arns[2], arns[1]])
  assert.match(first.NextToken, /^([0-9a-f]{16})+$/)
  const second = (await w.bulk.handle('ListBulkOperations', { MaxResults: 2, NextToken: first.NextToken })).data
  assert.deepEqual(second.BulkOperationsSummaryList.map(function (s) { return s.BulkOperationArn }), [arns[0]])
  assert.equal(second.NextToken, undefined)
  assert.equal((await w.bulk.handle('ListBulkOperations', { MaxResults: 26 })).status, 400)
})

test('shares_capacity: writes the capacity model refuses wait and are asked again', async function () {
  let refusals = 2
  const capacity = {
    config: { mode: 'provisioned' },
    admit: function (_, items) {
      if (refusals-- > 0) return { accepted: [], refused: items.map(function (_, index) { return { index, reason: 'X' } }) }
      return { accepted: items.map(function (_, i) { return i }), refused: [] }
    },
  }
  const w = world({ capacity })
  upload(w, Array.from({ length: 10 }, function (_, i) { return JSON.stringify(book(i)) }))
  const done = await runToEnd(w, startBody())
  assert.equal(done.BulkOperationStatus, 'COMPLETED')
  assert.equal(w.table.size, 10)
  assert.ok(refusals < 0)
})

test('configure refuses settings it does not know, and never answers the S3 keys', function () {
  const w = world()
  assert.throws(function () { w.bulk.configure({ rates: { STANDARD: 0, ACCELERATED: 1 } }) }, /rates/)
  assert.throws(function () { w.bulk.configure({ turbo: true }) }, /unknown bulk put setting/)
  assert.throws(function () { w.bulk.configure({ s3: { endpoint: 'http://example.com', access_key: 'a', secret_key: 'b' } }) }, /loopback/)
  const answer = w.bulk.configure({ s3: { endpoint: 'http://127.0.0.1:9', access_key: 'AKID', secret_key: 'SECRET' } })
  assert.equal(JSON.stringify(answer).includes('SECRET'), false)
  assert.equal(answer.s3, true)
})
