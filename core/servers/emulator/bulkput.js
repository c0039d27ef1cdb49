// DynamoDB's bulk put operations, emulated by the lab's proxy in front of any local engine.
//
// Contract: createBulk({ engine, capacity, clock, sleep, s3 }) returns { configure, handles, handle, operations }.
//   engine(op, data, headers) -> Promise<{ status, data }>   one DynamoDB call to the engine (the proxy's own)
//   capacity() -> the proxy's current capacity model (capacity.js), or null
//   clock() -> seconds; sleep(ms) -> Promise               injected: the unit tests run on a fake clock
//   s3: { list(bucket, prefix), get(bucket, key), put(bucket, key, body) } or null: S3 as the operations see it
//       (createS3 below talks to the lab's moto server; configure({ s3: {...} }) builds one)
// handle(op, data, req) answers StartBulkPutItems, DescribeBulkOperation, ListBulkOperations and CancelBulkOperation
// as botocore 1.44.18's model and AWS's developer guide describe them (see docs/bulk-put.md for each source):
//   - start: the table must exist (ResourceNotFoundException) and be ACTIVE (ResourceInUseException);
//     MaxWriteRequestUnits >= 1,024; ClientToken: the same token and parameters within 8 hours return the same
//     operation, the same token with other parameters IdempotentParameterMismatchException;
//   - the operation lists the objects under the input prefix (at most 50,000, each at most 5 GB: else FAILED),
//     reads each (GZIP, ZSTD or NONE; DYNAMODB_JSON lines), and validates every line as DynamoDB would: malformed
//     JSON, no "Item" object, a key attribute missing or of the wrong type, an item over 400 KB: an ERROR report line,
//     counted in FailedItemCount (and ProcessedItemCount); valid items are written with BatchWriteItem (25 at a time)
//     at the modelled rate; the status ends COMPLETED, or COMPLETED_WITH_ERRORS when any line failed;
//   - cancel: CANCELLING at once, CANCELLED once the batch in flight is done; what was written stays;
//   - list: newest first, MaxResults 1-25 (10 by default), a hex NextToken; the past 90 days.
// What AWS does not publish is the lab's named assumption, set by the Python side through configure() (the values
// live in core/domain/bulkmodel.py, shown wherever they matter): the tier's rate (WRU/s, capped by MaxWriteRequestUnits),
// the start-up delay, whether the writes draw on the table's capacity model (shares_capacity: refused writes wait
// and are retried, so foreground writes and the bulk put compete), the ARN's form, the ERROR report's layout
// (JSON lines under <output prefix><operation id>/ERROR/part-NNNNN.jsonl: ObjectKey, LineNumber, ErrorCode,
// ErrorMessage, Line: the input line's first 1 KB), which bytes count (input bytes: as stored in S3, pro rata
// per line; bulk put bytes: the written items' DynamoDB size), and the FailureCode of a cancelled operation.
'use strict'

const crypto = require('crypto')
const http = require('http')
const zlib = require('zlib')
const aws4 = require('aws4')
const { itemSize, writeUnits } = require('./capacity.js')

const PREFIX = 'com.amazonaws.dynamodb.v20120810#'
const OPERATIONS = new Set(['StartBulkPutItems', 'DescribeBulkOperation', 'ListBulkOperations', 'CancelBulkOperation'])
const TERMINAL = new Set(['COMPLETED', 'COMPLETED_WITH_ERRORS', 'CANCELLED', 'FAILED'])
const TIERS = ['STANDARD', 'ACCELERATED']
const MIN_MAX_WRU = 1024
const TOKEN_SECONDS = 8 * 3600
const LIST_SECONDS = 90 * 24 * 3600
const MAX_OBJECTS = 50000
const MAX_OBJECT_BYTES = 5e9
const MAX_ITEM_BYTES = 400 * 1024
const BATCH = 25
const REPORT_LINES = 10000 // ERROR report lines per S3 object
const REPORT_LINE_TEXT = 1024
const KEY_TYPES = new Set(['S', 'N', 'B'])
const VALUE_TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL'])

function isObject (value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function refusal (type, message, status) {
  return { status: status || 400, data: { __type: PREFIX + type, message } }
}

function validation (message) {
  return { status: 400, data: { __type: 'com.amazon.coral.validate#ValidationException', message } }
}

// The operation's validation of one input line: null when it is an item to write, else { code, message }.
function checkLine (text, keys) {
  let data
  try { data = JSON.parse(text) } catch (err) { return { code: 'ParseError', message: 'Invalid JSON: ' + err.message } }
  if (!isObject(data) || !isObject(data.Item)) return { code: 'ParseError', message: 'The line is not a DynamoDB JSON item: {"Item": {...}} expected' }
  for (const [name, value] of Object.entries(data.Item)) {
    const types = isObject(value) ? Object.keys(value) : []
    if (types.length !== 1 || !VALUE_TYPES.has(types[0])) {
      return { code: 'ValidationError', message: 'Supplied AttributeValue of ' + name + ' is not one of the DynamoDB types' }
    }
  }
  for (const key of keys) {
    const value = data.Item[key.name]
    if (value === undefined) return { code: 'ValidationError', message: 'One or more parameter values were invalid: Missing the key ' + key.name + ' in the item' }
    const actual = Object.keys(value)[0]
    if (actual !== key.type) {
      return { code: 'ValidationError', message: 'One or more parameter values were invalid: Type mismatch for key ' + key.name + ' expected: ' + key.type + ' actual: ' + actual }
    }
    if (typeof value[actual] !== 'string' || value[actual] === '') {
      return { code: 'ValidationError', message: 'One or more parameter values are not valid: the key ' + key.name + ' is empty' }
    }
  }
  if (itemSize(data.Item) > MAX_ITEM_BYTES) return { code: 'ValidationError', message: 'Item size has exceeded the maximum allowed size' }
  return { item: data.Item }
}

// The start request's own validation (the model's constraints): null, or the ValidationException answer.
function checkStart (data) {
  if (!isObject(data) || typeof data.TableName !== 'string' || !data.TableName) return validation('TableName is required')
  const input = data.InputS3Configuration, output = data.OutputS3Configuration
  if (!isObject(input) || typeof input.S3Bucket !== 'string' || !input.S3Bucket) return validation('InputS3Configuration.S3Bucket is required')
  if (!['DYNAMODB_JSON', 'ION'].includes(input.InputFormat)) return validation('InputS3Configuration.InputFormat must be DYNAMODB_JSON or ION')
  if (input.InputCompressionType !== undefined && !['GZIP', 'ZSTD', 'NONE'].includes(input.InputCompressionType)) {
    return validation('InputS3Configuration.InputCompressionType must be GZIP, ZSTD or NONE')
  }
  if (!isObject(output) || !Array.isArray(output.OutputType) || !output.OutputType.length ||
      !output.OutputType.every(function (t) { return t === 'ERROR' || t === 'CONDITION_CHECK_FAILURE' })) {
    return validation('OutputS3Configuration.OutputType must list ERROR and/or CONDITION_CHECK_FAILURE')
  }
  if (data.MaxWriteRequestUnits !== undefined && !(Number.isInteger(data.MaxWriteRequestUnits) && data.MaxWriteRequestUnits >= MIN_MAX_WRU)) {
    return validation('MaxWriteRequestUnits must be at least ' + MIN_MAX_WRU)
  }
  if (data.PerformanceTier !== undefined && !TIERS.includes(data.PerformanceTier)) return validation('PerformanceTier must be STANDARD or ACCELERATED')
  if (data.ClientToken !== undefined && (typeof data.ClientToken !== 'string' || !data.ClientToken || data.ClientToken.includes('$'))) {
    return validation('ClientToken must be a non-empty string without $')
  }
  return null
}

// The parameters a ClientToken stands for: the request without the token, keys sorted.
function parameters (data) {
  const sorted = function (value) {
    if (Array.isArray(value)) return value.map(sorted)
    if (!isObject(value)) return value
    const out = {}
    for (const key of Object.keys(value).sort()) out[key] = sorted(value[key])
    return out
  }
  const copy = Object.assign({}, data)
  delete copy.ClientToken
  if (copy.PerformanceTier === undefined) copy.PerformanceTier = 'STANDARD'
  return JSON.stringify(sorted(copy))
}

function regionOf (req) {
  const match = /Credential=[^/]*\/\d{8}\/([a-z0-9-]+)\//.exec(String((req && req.headers && req.headers.authorization) || ''))
  return match ? match[1] : 'us-east-1'
}

function decompress (body, type) {
  if (type === 'GZIP') return zlib.gunzipSync(body)
  if (type === 'ZSTD') {
    if (typeof zlib.zstdDecompressSync !== 'function') throw new Error('this Node has no ZSTD: the lab emulation reads ZSTD on Node 22.15+')
    return zlib.zstdDecompressSync(body)
  }
  return body
}

function createBulk (options) {
  const engine = options.engine
  const clock = options.clock || function () { return Date.now() / 1000 }
  const sleep = options.sleep || function (ms) { return new Promise(function (resolve) { setTimeout(resolve, ms) }) }
  const capacityModel = options.capacity || function () { return null }
  let s3 = options.s3 || null
  let model = { rates: { STANDARD: 4000, ACCELERATED: 40000 }, startup_s: 0, shares_capacity: true }
  const operations = new Map() // arn -> the operation's state
  const tokens = new Map() // client token -> { arn, parameters, at }

  function configure (config) {
    if (!isObject(config)) throw new Error('the bulk put settings must be a JSON object')
    const next = Object.assign({}, model)
    for (const [key, value] of Object.entries(config)) {
      if (key === 's3') continue
      if (key === 'rates') {
        if (!isObject(value) || !TIERS.every(function (t) { return Number.isFinite(value[t]) && value[t] > 0 })) {
          throw new Error('rates must give STANDARD and ACCELERATED in WRU per second, above 0')
        }
        next.rates = { STANDARD: value.STANDARD, ACCELERATED: value.ACCELERATED }
      } else if (key === 'startup_s') {
        if (!(Number.isFinite(value) && value >= 0 && value <= 3600)) throw new Error('startup_s must be 0 to 3600 seconds')
        next.startup_s = value
      } else if (key === 'shares_capacity') {
        if (typeof value !== 'boolean') throw new Error('shares_capacity must be true or false')
        next.shares_capacity = value
      } else {
        throw new Error('unknown bulk put setting ' + JSON.stringify(key) + ': use s3, rates, startup_s, shares_capacity')
      }
    }
    if (config.s3 !== undefined) s3 = config.s3 === null ? null : createS3(config.s3)
    model = next
    return describeModel()
  }

  function describeModel () {
    return { rates: model.rates, startup_s: model.startup_s, shares_capacity: model.shares_capacity, s3: Boolean(s3) }
  }

  function handles (op) {
    return OPERATIONS.has(op)
  }

  async function handle (op, data, req) {
    if (!isObject(data)) return refusal('SerializationException', 'the request body must be a JSON object')
    if (op === 'StartBulkPutItems') return start(data, req)
    if (op === 'ListBulkOperations') return list(data)
    const op_ = operations.get(data.BulkOperationArn)
    if (typeof data.BulkOperationArn !== 'string' || !op_) {
      return refusal('ResourceNotFoundException', 'Bulk operation not found: ' + String(data.BulkOperationArn))
    }
    if (op === 'DescribeBulkOperation') return { status: 200, data: { BulkOperationDescription: describe(op_) } }
    if (TERMINAL.has(op_.status) || op_.status === 'CANCELLING') {
      return validation('The bulk operation is ' + op_.status + ' and cannot be cancelled')
    }
    op_.status = 'CANCELLING'
    return { status: 200, data: { BulkOperationArn: op_.arn, BulkOperationStatus: 'CANCELLING' } }
  }

  async function start (data, req) {
    const invalid = checkStart(data)
    if (invalid) return invalid
    const now = clock()
    for (const [token, entry] of tokens) if (now - entry.at > TOKEN_SECONDS) tokens.delete(token)
    const params = parameters(data)
    if (data.ClientToken !== undefined && tokens.has(data.ClientToken)) {
      const known = tokens.get(data.ClientToken)
      if (known.parameters !== params) {
        return refusal('IdempotentParameterMismatchException', 'The ClientToken was used before with other parameters')
      }
      return { status: 200, data: { BulkOperationDescription: describe(operations.get(known.arn)) } }
    }
    if (!s3) return validation('the lab\'s proxy has no S3 to read from: the lab configures it when a plan runs bulk-put')
    const table = String(data.TableName).split('/').pop()
    const headers = req && req.headers ? { authorization: req.headers.authorization, 'x-amz-date': req.headers['x-amz-date'] } : {}
    const answer = await engine('DescribeTable', { TableName: table }, headers)
    if (answer.status !== 200) {
      const type = String((answer.data && answer.data.__type) || '').split('#').pop()
      if (type === 'ResourceNotFoundException') return refusal(type, 'Requested resource not found: Table: ' + table + ' not found')
      return { status: answer.status, data: answer.data }
    }
    const described = answer.data.Table || {}
    if (described.TableStatus && described.TableStatus !== 'ACTIVE') {
      return refusal('ResourceInUseException', 'Table ' + table + ' is ' + described.TableStatus + ', not ACTIVE')
    }
    const types = new Map((described.AttributeDefinitions || []).map(function (a) { return [a.AttributeName, a.AttributeType] }))
    const keys = (described.KeySchema || []).map(function (k) { return { name: k.AttributeName, type: types.get(k.AttributeName) || 'S', hash: k.KeyType === 'HASH' } })
    const id = crypto.randomBytes(8).toString('hex')
    const region = regionOf(req)
    const op = {
      arn: 'arn:aws:dynamodb:' + region + ':000000000000:table/' + table + '/bulk-operation/' + id,
      id,
      table,
      tableArn: described.TableArn || ('arn:aws:dynamodb:' + region + ':000000000000:table/' + table),
      tableId: described.TableId || crypto.randomUUID(),
      keys,
      headers,
      request: data,
      status: 'IN_PROGRESS',
      start: now,
      end: null,
      processed: 0,
      failed: 0,
      processedBytes: 0,
      totalBytes: null,
      putBytes: 0,
      failureCode: null,
      failureMessage: null,
      reportParts: 0,
      errors: [],
    }
    operations.set(op.arn, op)
    if (data.ClientToken !== undefined) tokens.set(data.ClientToken, { arn: op.arn, parameters: params, at: now })
    op.done = run(op).catch(function (err) { finish(op, 'FAILED', 'InternalServerError', String(err && err.message ? err.message : err)) })
    return { status: 200, data: { BulkOperationDescription: describe(op) } }
  }

  function describe (op) {
    const out = {
      BulkOperationArn: op.arn,
      BulkOperationStatus: op.status,
      TableDetails: [{ TableName: op.tableArn, TableId: op.tableId }],
      InputS3Configuration: op.request.InputS3Configuration,
      OutputS3Configuration: op.request.OutputS3Configuration,
      StartTime: op.start,
      ProcessedItemCount: op.processed,
      FailedItemCount: op.failed,
      ProcessedInputBytes: Math.round(op.processedBytes),
      BulkOperationUsage: [{ TableName: op.tableArn, BulkPutBytes: op.putBytes, Table: { BulkPutBytes: op.putBytes } }],
      PerformanceTier: op.request.PerformanceTier || 'STANDARD',
    }
    if (op.request.ClientToken !== undefined) out.ClientToken = op.request.ClientToken
    if (op.request.MaxWriteRequestUnits !== undefined) out.MaxWriteRequestUnits = op.request.MaxWriteRequestUnits
    if (op.totalBytes !== null) out.TotalInputBytes = op.totalBytes
    if (op.end !== null) out.EndTime = op.end
    if (op.failureCode) {
      out.FailureCode = op.failureCode
      out.FailureMessage = op.failureMessage
    }
    return out
  }

  function list (data) {
    const max = data.MaxResults === undefined ? 10 : data.MaxResults
    if (!Number.isInteger(max) || max < 1 || max > 25) return validation('MaxResults must be between 1 and 25')
    let offset = 0
    if (data.NextToken !== undefined) {
      if (typeof data.NextToken !== 'string' || !/^([0-9a-f]{16})+$/.test(data.NextToken)) return validation('Invalid NextToken')
      offset = parseInt(data.NextToken, 16)
    }
    const now = clock()
    const recent = Array.from(operations.values()).filter(function (op) { return now - op.start <= LIST_SECONDS })
      .sort(function (a, b) { return b.start - a.start })
    const page = recent.slice(offset, offset + max).map(function (op) {
      const summary = { BulkOperationArn: op.arn, BulkOperationStatus: op.status, StartTime: op.start }
      if (op.end !== null) summary.EndTime = op.end
      return summary
    })
    const out = { BulkOperationsSummaryList: page }
    if (offset + max < recent.length) out.NextToken = (offset + max).toString(16).padStart(16, '0')
    return { status: 200, data: out }
  }

  function finish (op, status, code, message) {
    if (TERMINAL.has(op.status)) return
    op.status = status
    op.end = clock()
    if (code) {
      op.failureCode = code
      op.failureMessage = message
    }
  }

  // WRU per second the operation may use: the tier's assumed target, capped by MaxWriteRequestUnits.
  function rateOf (op) {
    const tier = model.rates[op.request.PerformanceTier || 'STANDARD']
    return Math.min(tier, op.request.MaxWriteRequestUnits || Infinity)
  }

  async function run (op) {
    const input = op.request.InputS3Configuration
    if (model.startup_s > 0) await sleep(model.startup_s * 1000)
    if (op.status === 'CANCELLING') return cancelled(op)
    if (input.InputFormat !== 'DYNAMODB_JSON') {
      return finish(op, 'FAILED', 'UnsupportedInputFormat', 'the lab emulation reads DYNAMODB_JSON only, not ' + input.InputFormat)
    }
    let objects
    try {
      objects = (await s3.list(input.S3Bucket, input.S3KeyPrefix || '')).filter(function (o) { return !o.key.endsWith('/') })
    } catch (err) {
      return finish(op, 'FAILED', err.code || 'S3Error', 'the input objects could not be listed: ' + err.message)
    }
    if (objects.length > MAX_OBJECTS) return finish(op, 'FAILED', 'ValidationError', 'more than ' + MAX_OBJECTS + ' S3 objects under the prefix')
    const large = objects.find(function (o) { return o.size > MAX_OBJECT_BYTES })
    if (large) return finish(op, 'FAILED', 'ValidationError', 'S3 object ' + large.key + ' is over 5 GB')
    op.totalBytes = objects.reduce(function (n, o) { return n + o.size }, 0)
    const writer = createWriter(op)
    for (const object of objects) {
      if (op.status !== 'IN_PROGRESS') break
      let text
      try {
        text = decompress(await s3.get(input.S3Bucket, object.key), input.InputCompressionType || 'NONE')
      } catch (err) {
        await writer.flush()
        return finish(op, 'FAILED', err.code || 'InputReadError', 'S3 object ' + object.key + ' could not be read: ' + err.message)
      }
      const lines = text.toString('utf8').split('\n')
      const perByte = text.length ? object.size / text.length : 0
      for (let i = 0; i < lines.length; i++) {
        if (op.status !== 'IN_PROGRESS') break
        const line = lines[i]
        const bytes = (Buffer.byteLength(line) + 1) * perByte
        if (!line.trim()) { op.processedBytes += bytes; continue }
        const verdict = checkLine(line, op.keys)
        if (verdict.item) {
          await writer.add(verdict.item, bytes)
        } else {
          await writer.flush() // the counts stay in line order
          op.processed++
          op.failed++
          op.processedBytes += bytes
          op.errors.push({ ObjectKey: object.key, LineNumber: i + 1, ErrorCode: verdict.code, ErrorMessage: verdict.message, Line: line.slice(0, REPORT_LINE_TEXT) })
          if (op.errors.length >= REPORT_LINES) await report(op)
        }
      }
      await writer.flush()
    }
    await writer.flush()
    await report(op)
    if (op.status === 'CANCELLING') return cancelled(op)
    if (op.status === 'IN_PROGRESS') finish(op, op.failed ? 'COMPLETED_WITH_ERRORS' : 'COMPLETED')
  }

  function cancelled (op) {
    finish(op, 'CANCELLED', 'OperationCancelled', 'The bulk operation was cancelled by CancelBulkOperation; items already written stay')
  }

  // The ERROR report so far, as one more S3 object in the output location (when ERROR is asked for).
  async function report (op) {
    const output = op.request.OutputS3Configuration
    if (!op.errors.length || !output.OutputType.includes('ERROR') || !output.S3Bucket) { op.errors = []; return }
    const lines = op.errors
    op.errors = []
    const key = (output.S3KeyPrefix || '') + op.id + '/ERROR/part-' + String(op.reportParts++).padStart(5, '0') + '.jsonl'
    try {
      await s3.put(output.S3Bucket, key, Buffer.from(lines.map(function (l) { return JSON.stringify(l) }).join('\n') + '\n'))
    } catch (err) {
      finish(op, 'FAILED', err.code || 'S3Error', 'the ERROR report could not be written to s3://' + output.S3Bucket + '/' + key + ': ' + err.message)
    }
  }

  // Valid items, 25 to a BatchWriteItem, paced to the operation's rate; with shares_capacity, through the table's
  // capacity model like any write (what it refuses waits and is asked again).
  function createWriter (op) {
    let batch = []
    let keysInBatch = new Set()
    let allowance = 0
    let last = clock()
    const hash = op.keys.find(function (k) { return k.hash }) || op.keys[0]

    async function pace (wru) {
      const rate = rateOf(op)
      for (;;) {
        const now = clock()
        allowance = Math.min(allowance + (now - last) * rate, Math.max(rate, wru))
        last = now
        if (allowance >= wru) { allowance -= wru; return }
        await sleep(Math.max(1, (wru - allowance) / rate * 1000))
      }
    }

    async function write (entries) {
      let pending = entries
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt > 50) throw new Error('the engine kept refusing the writes')
        let admitted = pending
        const held = []
        const model_ = model.shares_capacity ? capacityModel() : null
        if (model_ && model_.config.mode !== 'off') {
          const verdict = model_.admit(op.table, pending.map(function (e) { return { key: JSON.stringify(e.item[hash.name]), wru: e.wru } }))
          admitted = verdict.accepted.map(function (i) { return pending[i] })
          for (const r of verdict.refused) held.push(pending[r.index])
        }
        let unprocessed = []
        if (admitted.length) {
          const answer = await engine('BatchWriteItem', { RequestItems: { [op.table]: admitted.map(function (e) { return { PutRequest: { Item: e.item } } }) } }, op.headers)
          if (answer.status !== 200) {
            const type = String((answer.data && answer.data.__type) || '').split('#').pop()
            if (answer.status < 500 && !/Throughput|Throttl/.test(type)) throw new Error('the engine refused a write: ' + type + ' ' + ((answer.data && answer.data.message) || ''))
            unprocessed = admitted
          } else {
            const back = ((answer.data.UnprocessedItems || {})[op.table] || []).map(function (r) { return JSON.stringify(r.PutRequest.Item[hash.name]) })
            const backSet = new Set(back)
            unprocessed = admitted.filter(function (e) { return backSet.has(JSON.stringify(e.item[hash.name])) })
          }
        }
        const retry = new Set(unprocessed.concat(held))
        for (const e of pending) {
          if (retry.has(e)) continue
          op.processed++
          op.processedBytes += e.bytes
          op.putBytes += e.size
        }
        pending = pending.filter(function (e) { return retry.has(e) })
        if (pending.length) await sleep(Math.min(1000, 25 * 2 ** Math.min(attempt, 5)))
      }
    }

    async function flush () {
      if (!batch.length) return
      const entries = batch
      batch = []
      keysInBatch = new Set()
      await pace(entries.reduce(function (n, e) { return n + e.wru }, 0))
      await write(entries)
    }

    async function add (item, bytes) {
      const key = JSON.stringify(item[hash.name]) + (op.keys.length > 1 ? JSON.stringify(item[op.keys[1].name]) : '')
      if (keysInBatch.has(key)) await flush() // one BatchWriteItem never holds one key twice
      batch.push({ item, bytes, size: itemSize(item), wru: writeUnits(item) })
      keysInBatch.add(key)
      if (batch.length === BATCH) await flush()
    }

    return { add, flush }
  }

  // One raw request: its body parsed (a SerializationException when it is not JSON), then handle().
  function request (op, body, req) {
    let data
    try { data = JSON.parse(body.toString()) } catch { return Promise.resolve(refusal('SerializationException', 'the request body must be JSON')) }
    return handle(op, data, req)
  }

  return { configure, handles, handle, request, operations, describeModel }
}

// The proxy's engine (server.js: engine(req, body, options, done)) as engine(op, data, headers) -> Promise: a
// DynamoDB call made by the operation itself, with the Authorization and X-Amz-Date of the request that started it
// (engines that keep one database per access key and region, like DynamoDB Local, then find the same table).
function engineCall (engine) {
  return function (op, data, headers) {
    return new Promise(function (resolve) {
      const sent = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.' + op }
      for (const name of ['authorization', 'x-amz-date']) if (headers && headers[name]) sent[name] = headers[name]
      try {
        engine({ method: 'POST', url: '/', headers: sent }, Buffer.from(JSON.stringify(data)), {}, function (status, _, answer) {
          let parsed = {}
          try { parsed = JSON.parse(answer.toString() || '{}') } catch { parsed = { message: answer.toString().slice(0, 200) } }
          resolve({ status, data: parsed })
        })
      } catch (err) {
        resolve({ status: 500, data: { __type: PREFIX + 'InternalServerError', message: String(err && err.message) } })
      }
    })
  }
}

// ---- S3 on this machine (the lab's moto server), signed with aws4 --------------------------------------------

function xmlText (text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')
}

function s3Path (bucket, key) {
  return '/' + encodeURIComponent(bucket) + (key === undefined ? '' : '/' + key.split('/').map(encodeURIComponent).join('/'))
}

// S3 at a loopback http:// endpoint, path-style: { list, get, put }; config: { endpoint, region, access_key,
// secret_key } (the keys are kept in this closure only, never answered or logged).
function createS3 (config) {
  if (!isObject(config)) throw new Error('s3 must be an object like {"endpoint": "http://127.0.0.1:PORT", ...}')
  let url
  try { url = new URL(String(config.endpoint)) } catch { throw new Error('s3.endpoint must be an http://127.0.0.1:PORT URL') }
  if (url.protocol !== 'http:' || !(url.hostname === 'localhost' || /^127\./.test(url.hostname) || url.hostname === '[::1]')) {
    throw new Error('s3.endpoint must be a loopback http:// URL (the lab\'s moto server)')
  }
  const credentials = { accessKeyId: String(config.access_key || ''), secretAccessKey: String(config.secret_key || '') }
  if (!credentials.accessKeyId || !credentials.secretAccessKey) throw new Error('s3 needs access_key and secret_key')
  const region = String(config.region || 'us-east-1')
  const agent = new http.Agent({ keepAlive: true })

  function request (method, path, body) {
    const signed = aws4.sign({ host: url.host, path, method, service: 's3', region, body: body || '', headers: body ? { 'content-type': 'application/octet-stream' } : {} }, credentials)
    return new Promise(function (resolve, reject) {
      const req = http.request({ hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 80, method, path, headers: signed.headers, agent }, function (res) {
        const chunks = []
        res.on('data', function (c) { chunks.push(c) })
        res.on('end', function () {
          const data = Buffer.concat(chunks)
          if (res.statusCode >= 300) {
            const code = /<Code>([^<]+)<\/Code>/.exec(data.toString())
            return reject(Object.assign(new Error('S3 answered ' + res.statusCode + (code ? ' ' + code[1] : '')), { code: code ? 'S3' + code[1] : 'S3HTTP' + res.statusCode }))
          }
          resolve(data)
        })
        res.on('error', reject)
      })
      req.setTimeout(60000, function () { req.destroy(Object.assign(new Error('S3 timed out'), { code: 'S3Timeout' })) })
      req.on('error', reject)
      req.end(body)
    })
  }

  async function list (bucket, prefix) {
    const out = []
    let token = null
    do {
      const query = 'list-type=2&prefix=' + encodeURIComponent(prefix) + (token ? '&continuation-token=' + encodeURIComponent(token) : '')
      const xml = (await request('GET', s3Path(bucket) + '?' + query)).toString()
      const re = /<Contents>([\s\S]*?)<\/Contents>/g
      let m
      while ((m = re.exec(xml))) {
        out.push({ key: xmlText((/<Key>([\s\S]*?)<\/Key>/.exec(m[1]) || [])[1] || ''), size: Number((/<Size>(\d+)<\/Size>/.exec(m[1]) || [])[1] || 0) })
      }
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? xmlText((/<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml) || [])[1] || '') : null
    } while (token)
    return out.sort(function (a, b) { return a.key < b.key ? -1 : a.key > b.key ? 1 : 0 })
  }

  return {
    list,
    get: function (bucket, key) { return request('GET', s3Path(bucket, key)) },
    put: function (bucket, key, body) { return request('PUT', s3Path(bucket, key), body) },
  }
}

module.exports = { createBulk, createS3, engineCall, checkLine, checkStart, OPERATIONS, TERMINAL }
