// The request pipeline of the conditions proxy: body limits → latency → signature check → bulk put or table
// bookkeeping → (writes) validation → faults → capacity admission → engine.
//
// Every function takes the proxy's state `p` (built by createProxy in proxy.js) and never throws: anything that
// fails while a request is handled becomes a 500 InternalServerError answer (counted, one line on p.log). Faults
// and the capacity model apply only to valid PutItem and BatchWriteItem requests: a write DynamoDB rejects whole,
// by its shape, sizes, table or keys (validate.js), goes to the engine untouched (or gets DynamoDB's error here),
// and a body that is not well-formed JSON goes to the engine untouched. A batch is thinned item by item (the
// throttle probability, then the capacity model): the held items are removed from the request before the engine
// sees it and merged into the engine's UnprocessedItems (400 when nothing is left). Bodies over 16 MiB (64 KiB for
// the control endpoints) get an early 413 without being buffered.
'use strict'

const validate = require('./validate.js')
const { PREFIX, errorBody, isObject, reply, send } = require('./answers.js')
const { drawFault, faulty, delayMs, holdBack } = require('./faults.js')
const { capacityRefusal } = require('./admission.js')
const { controlAnswer } = require('./control.js')
const { VIA_HEADER } = require('./engines.js')

const MAX_BODY_BYTES = 16 * 1024 * 1024 // DynamoDB's (and dynalite's) limit on a request
const MAX_LAB_BODY_BYTES = 64 * 1024
const LOOP_STATUS = 508
const WRITE_OPS = new Set(['PutItem', 'BatchWriteItem'])
const TABLE_OPS = new Set(['CreateTable', 'DeleteTable', 'UpdateTable'])
const THROTTLED = {
  __type: PREFIX + 'ProvisionedThroughputExceededException',
  message: 'The level of configured provisioned throughput for the table was exceeded (injected)',
}

// The HTTP server's request listener: reads the body (within the limit), then handles the request.
function receive (p, req, res) {
  req.on('error', function () {})
  res.on('error', function () {})
  const limit = req.url.startsWith('/__lab/') ? MAX_LAB_BODY_BYTES : MAX_BODY_BYTES
  const declared = Number(req.headers['content-length'])
  if (declared > limit) return tooLarge(p, req, res, limit)
  const chunks = []
  let size = 0
  req.on('data', function (chunk) {
    size += chunk.length
    if (size > limit) {
      req.removeAllListeners('data')
      req.removeAllListeners('end')
      req.pause()
      chunks.length = 0
      return tooLarge(p, req, res, limit)
    }
    chunks.push(chunk)
  })
  req.on('end', function () {
    try {
      handle(p, req, res, Buffer.concat(chunks, size))
    } catch (err) {
      internalError(p, res, err)
    }
  })
}

function tooLarge (p, req, res, limit) {
  p.stats.rejected++
  res.on('finish', function () { req.socket.destroy() })
  send(res, 413, errorBody('com.amazon.coral.service#SerializationException',
    'Request body too large: the limit is ' + limit + ' bytes'), { connection: 'close' })
}

function internalError (p, res, err) {
  p.stats.internal_errors++
  p.log('internal error: ' + String(err && err.stack ? err.stack : err).split('\n').slice(0, 2).join(' ') + '\n')
  send(res, 500, errorBody(PREFIX + 'InternalServerError', 'Internal server error'))
}

function handle (p, req, res, body) {
  if (req.url.startsWith('/__lab/')) {
    const answer = controlAnswer(p, req.method, req.url, req.headers, body)
    return send(res, answer.status, answer.data)
  }
  p.stats.requests++
  if (String(req.headers[VIA_HEADER] || '').split(', ').includes(p.proxyId)) {
    p.stats.loops++
    return send(res, LOOP_STATUS, errorBody(PREFIX + 'InternalServerError', 'the conditions proxy received its own ' +
      'request back: its upstream leads to itself (a loop); point --upstream at the engine'))
  }
  const op = String(req.headers['x-amz-target'] || '').split('.')[1] || ''
  const go = function () {
    try {
      const refused = p.auth ? p.auth(req, body, p.now()) : null
      if (refused) {
        const type = refused.body.__type.split('#')[1]
        p.stats.auth_refused[type] = (p.stats.auth_refused[type] || 0) + 1
        return send(res, refused.status, refused.body)
      }
      if (p.bulk.handles(op) && req.method === 'POST') {
        return p.bulk.request(op, body, req).then(function (a) { send(res, a.status, a.data) }, function (err) { internalError(p, res, err) })
      }
      if (TABLE_OPS.has(op)) noteTable(p, op, body) // only a request that is let through
      if (WRITE_OPS.has(op) && req.method === 'POST') {
        p.stats.writes++
        return handleWrite(p, req, res, op, body)
      }
      forward(p, req, res, body)
    } catch (err) {
      internalError(p, res, err)
    }
  }
  const delay = delayMs(p.conditions, p.random)
  p.stats.injected_ms += delay // the latency injected, summed (the traffic report of `python -m core proxy`)
  if (delay > 0) p.schedule(go, delay)
  else go()
}

// A new (or deleted) table starts its capacity model afresh; a new one tells us its partition key.
function noteTable (p, op, body) {
  let data
  try { data = JSON.parse(body.toString()) } catch { return }
  if (!isObject(data) || typeof data.TableName !== 'string') return
  p.tables.forget(data.TableName)
  p.admission.tableChanged(op, data)
}

// Ask the engine; options.transform rewrites a 200 JSON answer; options.lose drops the answer (the write happens).
function forward (p, req, res, body, options) {
  options = options || {}
  try {
    p.engine(req, body, options, function (status, headers, answer) {
      if (options.lose) return req.socket.destroy()
      if (options.transform && status === 200) {
        let data = null
        try { data = JSON.parse(answer.toString()) } catch { data = null }
        if (isObject(data)) {
          answer = Buffer.from(JSON.stringify(options.transform(data)))
          headers = Object.assign({}, headers)
          for (const name of Object.keys(headers)) {
            if (name.toLowerCase() === 'x-amz-crc32' || name.toLowerCase() === 'content-encoding') delete headers[name]
          }
        }
      }
      reply(res, status, headers, answer)
    })
  } catch (err) {
    internalError(p, res, err)
  }
}

// The request as JSON when it is well-formed enough for faults to apply to it, else null (the engine answers it).
function wellFormedWrite (op, body) {
  let data
  try { data = JSON.parse(body.toString()) } catch { return null }
  if (!isObject(data)) return null
  if (op === 'PutItem') return typeof data.TableName === 'string' && isObject(data.Item) ? data : null
  if (!isObject(data.RequestItems)) return null
  const tables = Object.values(data.RequestItems)
  if (!tables.length) return null
  for (const requests of tables) {
    if (!Array.isArray(requests) || !requests.length || !requests.every(isObject)) return null
  }
  return data
}

// A write: validated first, as DynamoDB does (see validate.js): one it rejects whole goes to the engine untouched
// (or gets DynamoDB's error here), and only a valid one meets the faults and the capacity model.
function handleWrite (p, req, res, op, body) {
  const data = faulty(p.conditions) || p.admission.on ? wellFormedWrite(op, body) : null
  if (data === null) return forward(p, req, res, body)
  const invalid = validate.requestError(op, data)
  if (invalid) return refuseWhole(p, req, res, body, invalid)
  p.tables.lookup(req, validate.tableNames(op, data), function (found) {
    try {
      const wrong = validate.keyError(op, data, found)
      if (wrong) return refuseWhole(p, req, res, body, wrong)
      conditionWrite(p, req, res, op, body, data)
    } catch (err) {
      internalError(p, res, err)
    }
  })
}

function refuseWhole (p, req, res, body, invalid) {
  p.stats.invalid++
  if (invalid.answer) return send(res, invalid.status, invalid.body)
  forward(p, req, res, body)
}

// A valid write, with the fault drawn for it and the capacity model's verdict.
function conditionWrite (p, req, res, op, body, data) {
  const fault = drawFault(p.conditions, p.random)
  if (fault === 'drop' || fault === 'lose') {
    p.stats.resets++
    if (fault === 'drop') return req.socket.destroy()
    return forward(p, req, res, body, { lose: true }) // the write happens, the answer is lost
  }
  if (fault === 'error') {
    p.stats.errors++
    return send(res, 500, errorBody(PREFIX + 'InternalServerError', 'Injected internal server error'))
  }
  if (op === 'BatchWriteItem') return throttleBatch(p, req, res, body, data)
  if (fault === 'throttle') {
    p.stats.throttled++
    return send(res, 400, THROTTLED)
  }
  const verdict = p.admission.admitPut(data.TableName, data.Item)
  if (verdict && verdict.refused.length) {
    p.stats.throttled++
    return send(res, 400, capacityRefusal(verdict.refused, data.TableName, req.headers.authorization))
  }
  forward(p, req, res, body)
}

// Hold back each item of a batch with the throttle probability, then the ones the capacity model refuses: they
// are removed from the request (really not written) and merged into the engine's UnprocessedItems.
function throttleBatch (p, req, res, body, data) {
  const kept = {}, held = {}, refused = []
  let keptCount = 0, heldCount = 0
  for (const [table, requests] of Object.entries(data.RequestItems)) {
    const drawn = holdBack(requests, p.conditions.throttle, p.random)
    if (drawn.held.length) held[table] = drawn.held.slice()
    heldCount += drawn.held.length
    const candidates = drawn.kept
    const verdict = p.admission.admitBatch(table, candidates)
    for (const i of verdict.accepted) (kept[table] = kept[table] || []).push(candidates[i])
    for (const r of verdict.refused) (held[table] = held[table] || []).push(candidates[r.index])
    keptCount += verdict.accepted.length
    heldCount += verdict.refused.length
    refused.push.apply(refused, verdict.refused.map(function (r) { return Object.assign({ table }, r) }))
  }
  if (heldCount === 0) return forward(p, req, res, body)
  p.stats.throttled++
  if (keptCount === 0) {
    return send(res, 400, refused.length ? capacityRefusal(refused, refused[0].table, req.headers.authorization) : THROTTLED)
  }
  data.RequestItems = kept
  let rewritten
  try { rewritten = Buffer.from(JSON.stringify(data)) } catch { return forward(p, req, res, body) } // too deep: the engine refuses it
  forward(p, req, res, rewritten, {
    transform: function (answer) {
      const unprocessed = isObject(answer.UnprocessedItems) ? answer.UnprocessedItems : {}
      for (const [table, requests] of Object.entries(held)) {
        unprocessed[table] = (Array.isArray(unprocessed[table]) ? unprocessed[table] : []).concat(requests)
      }
      answer.UnprocessedItems = unprocessed
      return answer
    },
  })
}

module.exports = { receive, handle, wellFormedWrite, MAX_BODY_BYTES, MAX_LAB_BODY_BYTES, LOOP_STATUS, THROTTLED }
