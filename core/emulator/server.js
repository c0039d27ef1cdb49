// The embedded DynamoDB of the lab: dynalite hosted in-process, behind a thin layer that injects network conditions.
//
// Usage: node server.js [--host 127.0.0.1] [--port 0] [--conditions JSON]
// Prints one JSON line on stdout once listening ({"port": N}) or on failure ({"error": CODE, "message": ...}).
// Exits when its standard input closes, so it never outlives the Python process that started it.
//
// Conditions (JSON, all optional): latency_ms, jitter_ms (every request waits latency + uniform(0, jitter));
// throttle, error, reset (probabilities, applied to PutItem and BatchWriteItem only):
//   throttle: PutItem answers 400 ProvisionedThroughputExceededException; BatchWriteItem holds back each item
//             with that probability, unwritten, and returns them in UnprocessedItems (400 when every item was
//             held back, as DynamoDB does when nothing could be processed);
//   error:    500 InternalServerError, nothing written;
//   reset:    the connection is closed without a response (before or after the write, at random).
// GET/POST /__lab/conditions reads/replaces them at run time; GET /__lab/stats gives request counts.
'use strict'

const http = require('http')
const { Readable } = require('stream')

let dynalite, crc32
try {
  dynalite = require('dynalite')
  crc32 = require('buffer-crc32')
} catch (err) {
  console.log(JSON.stringify({ error: 'NO_DYNALITE', message: String(err.message).split('\n')[0] }))
  process.exit(3)
}

const WRITE_OPS = new Set(['PutItem', 'BatchWriteItem'])
const FIELDS = ['latency_ms', 'jitter_ms', 'throttle', 'error', 'reset']
const PREFIX = 'com.amazonaws.dynamodb.v20120810#'
const THROTTLED = {
  __type: PREFIX + 'ProvisionedThroughputExceededException',
  message: 'The level of configured provisioned throughput for the table was exceeded (injected)',
}

function parseArgs (argv) {
  const args = { host: '127.0.0.1', port: 0, conditions: '{}' }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (!(key in args)) throw new Error('unknown option ' + argv[i])
    args[key] = argv[i + 1]
  }
  return args
}

function validConditions (raw) {
  const out = { latency_ms: 0, jitter_ms: 0, throttle: 0, error: 0, reset: 0 }
  for (const [key, value] of Object.entries(raw)) {
    if (!FIELDS.includes(key)) throw new Error('unknown condition ' + key)
    if (typeof value !== 'number' || !(value >= 0)) throw new Error(key + ' must be a number >= 0')
    if (key !== 'latency_ms' && key !== 'jitter_ms' && value > 1) throw new Error(key + ' is a probability (0..1)')
    out[key] = value
  }
  return out
}

const args = parseArgs(process.argv.slice(2))
let conditions = validConditions(JSON.parse(args.conditions))
const stats = { requests: 0, writes: 0, throttled: 0, errors: 0, resets: 0 }
const inner = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
const dynaliteHandler = inner.listeners('request')[0]

function send (res, status, data) {
  const body = JSON.stringify(data)
  res.statusCode = status
  res.setHeader('Content-Type', 'application/x-amz-json-1.0')
  res.setHeader('x-amz-crc32', crc32.unsigned(body))
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

// Hand a (possibly rewritten) body to dynalite as if it were the original request.
function forward (req, res, body) {
  const fake = Readable.from(body.length ? [body] : [])
  fake.headers = Object.assign({}, req.headers, { 'content-length': String(body.length) })
  fake.method = req.method
  fake.url = req.url
  dynaliteHandler(fake, res)
}

// Let dynalite answer, then rewrite its JSON answer (a 200 only) before it leaves.
function rewriteAnswer (res, transform) {
  const end = res.end.bind(res)
  res.end = function (chunk) {
    let text = chunk ? chunk.toString() : ''
    if (res.statusCode === 200 && text) {
      text = JSON.stringify(transform(JSON.parse(text)))
      res.setHeader('x-amz-crc32', crc32.unsigned(text))
      res.setHeader('Content-Length', Buffer.byteLength(text))
    }
    return end(text)
  }
}

// Answer a write, with the faults drawn for it.
function handleWrite (req, res, op, body) {
  const roll = Math.random()
  let edge = conditions.reset
  if (roll < edge) {
    stats.resets++
    if (Math.random() < 0.5) return req.socket.destroy()
    res.end = function () { req.socket.destroy() } // the write happens, the answer is lost
    return forward(req, res, body)
  }
  if (roll < (edge += conditions.error)) {
    stats.errors++
    return send(res, 500, { __type: PREFIX + 'InternalServerError', message: 'Injected internal server error' })
  }
  if (op === 'BatchWriteItem' && conditions.throttle > 0) return throttleBatch(req, res, body)
  if (op === 'PutItem' && roll < edge + conditions.throttle) {
    stats.throttled++
    return send(res, 400, THROTTLED)
  }
  forward(req, res, body)
}

// Hold back each item of a batch with the throttle probability, unwritten, and return them in UnprocessedItems.
function throttleBatch (req, res, body) {
  let data
  try { data = JSON.parse(body.toString()) } catch { return forward(req, res, body) }
  if (!data || typeof data.RequestItems !== 'object') return forward(req, res, body)
  const kept = {}, held = {}
  let keptCount = 0, heldCount = 0
  for (const [table, requests] of Object.entries(data.RequestItems)) {
    if (!Array.isArray(requests)) return forward(req, res, body)
    for (const request of requests) {
      const side = Math.random() < conditions.throttle ? held : kept
      ;(side[table] = side[table] || []).push(request)
      if (side === kept) keptCount++
      else heldCount++
    }
  }
  if (heldCount === 0) return forward(req, res, body)
  stats.throttled++
  if (keptCount === 0) return send(res, 400, THROTTLED)
  data.RequestItems = kept
  rewriteAnswer(res, function (answer) {
    const unprocessed = answer.UnprocessedItems || {}
    for (const [table, requests] of Object.entries(held)) unprocessed[table] = (unprocessed[table] || []).concat(requests)
    answer.UnprocessedItems = unprocessed
    return answer
  })
  forward(req, res, Buffer.from(JSON.stringify(data)))
}

function handleLab (req, res, body) {
  if (req.url === '/__lab/stats') return send(res, 200, Object.assign({ conditions }, stats))
  if (req.url !== '/__lab/conditions') return send(res, 404, { message: 'unknown lab endpoint ' + req.url })
  if (req.method === 'POST') {
    try {
      conditions = validConditions(JSON.parse(body.toString() || '{}'))
    } catch (err) {
      return send(res, 400, { message: err.message })
    }
  }
  send(res, 200, conditions)
}

const server = http.createServer(function (req, res) {
  const chunks = []
  req.on('data', function (chunk) { chunks.push(chunk) })
  req.on('end', function () {
    const body = Buffer.concat(chunks)
    if (req.url.startsWith('/__lab/')) return handleLab(req, res, body)
    stats.requests++
    const op = String(req.headers['x-amz-target'] || '').split('.')[1] || ''
    const go = function () {
      if (WRITE_OPS.has(op)) {
        stats.writes++
        return handleWrite(req, res, op, body)
      }
      forward(req, res, body)
    }
    const delay = conditions.latency_ms + Math.random() * conditions.jitter_ms
    if (delay > 0) setTimeout(go, delay)
    else go()
  })
})
server.keepAliveTimeout = 60000
server.headersTimeout = 65000

server.on('error', function (err) {
  console.log(JSON.stringify({ error: err.code || 'ERROR', message: err.message }))
  process.exit(2)
})
server.listen(Number(args.port), args.host, function () {
  console.log(JSON.stringify({ port: server.address().port, pid: process.pid }))
})

process.stdin.on('end', function () { process.exit(0) })
process.stdin.on('error', function () { process.exit(0) })
process.stdin.resume()
process.on('SIGTERM', function () { process.exit(0) })
process.on('SIGINT', function () { process.exit(0) })
