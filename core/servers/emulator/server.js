// The lab's conditions proxy: a loopback DynamoDB endpoint that injects network conditions in front of an engine.
//
// Contract: the engine is either dynalite, hosted in this process (the embedded default: no extra process or hop),
// or any DynamoDB endpoint on this machine given by --upstream (DynamoDB Local, LocalStack, moto, a custom local
// URL), reached through a keep-alive agent. Latency, jitter and faults apply the same way to every engine. No
// request can kill or wedge the server: a malformed body goes to the engine untouched (faults apply only to
// well-formed writes), so it gets the engine's own 400 answer; bodies over 16 MiB (DynamoDB's request limit) get
// an early 413 without being buffered; anything the engine throws becomes a 500 InternalServerError answer.
//
// Usage: node server.js [--host 127.0.0.1] [--port 0] [--conditions JSON] [--capacity JSON]
//                       [--upstream http://127.0.0.1:PORT] [--tls-cert PEM_FILE --tls-key PEM_FILE]
// Prints one JSON line on stdout once listening ({"port": N, "pid": P, "backend": ...}) or on failure
// ({"error": CODE, "message": ...}, then exit 2). Exits when its standard input closes, so it never outlives the
// Python process that started it.
//
// Conditions (JSON, all optional): latency_ms, jitter_ms (every request waits latency + uniform(0, jitter));
// throttle, error, reset (probabilities, applied to valid PutItem and BatchWriteItem requests only: a write that
// DynamoDB rejects whole, by its shape, sizes, table or keys, meets no fault and no capacity model but goes to the
// engine untouched and gets its error, nothing written; see validate.js):
//   throttle: PutItem answers 400 ProvisionedThroughputExceededException; BatchWriteItem holds back each item
//             with that probability: they are removed from the request before the engine sees it (really not
//             written) and merged into the engine's UnprocessedItems (400 when every item was held back, as
//             DynamoDB does when nothing could be processed);
//   error:    500 InternalServerError, nothing written;
//   reset:    the connection is closed without a response (before or after the write, at random).
// Capacity (JSON, see core/domain/capacity.py and capacity.js): {"mode": "off" | "on-demand" | "provisioned", "wcu",
// "warm", "max"}; when on, every valid write is charged its write units against the table's model: a
// PutItem that does not fit gets 400 ProvisionedThroughputExceededException or ThrottlingException with
// ThrottlingReasons; a batch writes what fits and returns the rest in UnprocessedItems (400 when nothing fits).
// A CreateTable or DeleteTable seen here starts the table's model afresh (and tells it the partition key).
// Bulk put (StartBulkPutItems, DescribeBulkOperation, ListBulkOperations, CancelBulkOperation): emulated by
// bulkput.js in front of the engine, reading S3 set through GET/POST /__lab/bulk (its rates, start-up, S3 endpoint
// and keys; the keys are never answered).
// Control endpoints: GET /__lab/stats[?since=UNIX_SECONDS] (request counters, consumed WRU per second and
// throttle reasons, per table too, cut from `since`), GET/POST
// /__lab/conditions and /__lab/capacity (read/replace them, validated as the CLI validates them). They answer only
// requests carrying the header x-lab-token equal to the token the lab hands over at start (403 otherwise; disabled
// without one). Secrets come with --secrets stdin as the first line on stdin (never argv or the environment):
// {"token": "...", "credentials": {"AKID": "SECRET", ...}}.
// The AWS dress rehearsal: with --tls-cert/--tls-key it serves HTTPS (the lab makes a throwaway CA for it); with
// credentials (never logged) every DynamoDB request's SigV4 signature is checked as DynamoDB checks it (see auth.js); refusals
// are counted in stats.auth_refused by error type, TLS connections in stats.tls_server_names by the SNI name sent.
// A request that comes back to the proxy that sent it (its upstream leads to itself) gets 508 at once (stats.loops).
'use strict'

const fs = require('fs')
const http = require('http')
const https = require('https')
const crypto = require('crypto')
const dns = require('dns')
const net = require('net')
const zlib = require('zlib')
const { EventEmitter } = require('events')
const { createCapacity, validCapacity, writeUnits } = require('./capacity.js')
const { createAuth } = require('./auth.js')
const { createBulk, engineCall } = require('./bulkput.js')
const validate = require('./validate.js')

const MAX_BODY_BYTES = 16 * 1024 * 1024 // DynamoDB's (and dynalite's) limit on a request
const MAX_LAB_BODY_BYTES = 64 * 1024
const TOKEN_HEADER = 'x-lab-token'
// Every request this proxy sends upstream carries its id in this header (after any earlier proxies' ids): a
// request that comes back with it is a loop, however the upstream URL is spelt, and is refused at once.
const VIA_HEADER = 'x-lab-proxy-via'
const PROXY_ID = crypto.randomBytes(12).toString('base64url')
const LOOP_STATUS = 508
const TABLE_TTL_MS = 1000 // how long a table's description is trusted for validating writes (forgotten on changes)
const MAX_SECRETS_BYTES = 64 * 1024
let TOKEN = '' // the control token and the key pairs come on stdin (--secrets stdin), see readSecrets
let CREDENTIALS = null

const WRITE_OPS = new Set(['PutItem', 'BatchWriteItem'])
const DELAYS = ['latency_ms', 'jitter_ms']
const FAULTS = ['throttle', 'error', 'reset']
const PREFIX = 'com.amazonaws.dynamodb.v20120810#'
const THROTTLED = {
  __type: PREFIX + 'ProvisionedThroughputExceededException',
  message: 'The level of configured provisioned throughput for the table was exceeded (injected)',
}
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length'])

// The lab's secrets, one JSON line on stdin before anything else: {"token": "...", "credentials": {"AKID": "SECRET"}}.
// Not argv and not the environment: both stay readable in /proc by the user's other processes for the server's life.
function readSecrets () {
  const line = []
  const one = Buffer.alloc(1)
  while (line.length <= MAX_SECRETS_BYTES) {
    let n
    try {
      n = fs.readSync(0, one, 0, 1, null)
    } catch (err) {
      if (err.code === 'EAGAIN') continue
      throw err
    }
    if (n === 0 || one[0] === 10) break
    line.push(one[0])
  }
  if (line.length > MAX_SECRETS_BYTES) throw new Error('the secrets line on stdin is over ' + MAX_SECRETS_BYTES + ' bytes')
  const secrets = JSON.parse(Buffer.from(line).toString())
  if (secrets === null || typeof secrets !== 'object' || typeof (secrets.token || '') !== 'string') {
    throw new Error('the secrets line must be a JSON object like {"token": "...", "credentials": {"AKID": "SECRET"}}')
  }
  return secrets
}

function parseArgs (argv) {
  const args = { host: '127.0.0.1', port: '0', conditions: '{}', capacity: '{}', upstream: '', 'tls-cert': '', 'tls-key': '', secrets: '' }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (!(key in args) || argv[i + 1] === undefined) throw new Error('unknown option or missing value: ' + argv[i])
    args[key] = argv[i + 1]
  }
  return args
}

// The same rules as the Python Conditions dataclass (core/servers/emulator/__init__.py), with the same messages.
function validConditions (raw) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new Error('conditions must be a JSON object like {"latency_ms": 20, "throttle": 0.1}')
  }
  const out = { latency_ms: 0, jitter_ms: 0, throttle: 0, error: 0, reset: 0 }
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in out)) throw new Error('unknown condition ' + JSON.stringify(key) + ': use ' + Object.keys(out).join(', '))
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(key + ' must be a number, got ' + JSON.stringify(value))
    if (DELAYS.includes(key) && !(value >= 0 && value <= 60000)) {
      throw new Error(key + ' must be between 0 and 60000 ms, got ' + value)
    }
    if (FAULTS.includes(key) && !(value >= 0 && value <= 1)) {
      throw new Error('fault ' + key + ' is a probability between 0 and 1, got ' + value)
    }
    out[key] = value
  }
  if (FAULTS.reduce(function (sum, key) { return sum + partsPerMillion(out[key]) }, 0) > 1000000) {
    throw new Error('fault probabilities throttle + error + reset must add up to at most 1')
  }
  return out
}

// Probabilities add up in whole parts per million, as core/domain/plan.py's parts_per_million does (the same IEEE
// operations): 0.33 + 0.56 + 0.11 is 1 here and there, whatever order floats would be summed in.
function partsPerMillion (probability) {
  return Math.floor(probability * 1000000 + 0.5)
}

// Only an http:// endpoint on this machine: the proxy never sends anything off the machine.
function validUpstream (text) {
  let url
  try { url = new URL(text) } catch { throw new Error('invalid upstream URL ' + JSON.stringify(text) + ': expected http://127.0.0.1:PORT') }
  if (url.protocol !== 'http:') throw new Error('upstream ' + url.origin + ': only http:// upstreams are supported')
  if (url.username || url.password) throw new Error('upstream URL must not contain credentials')
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash) throw new Error('upstream URL must have no path: http://host:port')
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (!isLoopbackName(host) && !isLoopbackAddress(host)) {
    throw new Error('upstream ' + url.hostname + ' is not a loopback address: only 127.0.0.0/8, ::1 and localhost are accepted')
  }
  return { hostname: host, port: Number(url.port || 80), href: url.origin }
}

function isLoopbackName (host) {
  return host === 'localhost' || host.endsWith('.localhost')
}

function isLoopbackAddress (host) {
  if (net.isIPv4(host)) return host.split('.')[0] === '127'
  if (net.isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host)
  return false
}

// Resolve names like localhost to loopback addresses only, whatever /etc/hosts says.
function loopbackLookup (hostname, options, callback) {
  dns.lookup(hostname, { all: true }, function (err, addresses) {
    if (err) return callback(err)
    const safe = addresses.filter(function (a) { return isLoopbackAddress(a.address) })
    if (!safe.length) return callback(Object.assign(new Error(hostname + ' does not resolve to a loopback address'), { code: 'ENOTLOOPBACK' }))
    if (options && options.all) return callback(null, safe)
    callback(null, safe[0].address, safe[0].family)
  })
}

function errorBody (type, message) {
  return message === undefined ? { __type: type } : { __type: type, message }
}

// ---- engines: each one is function (req, body, options, done(status, headers, body)) -------------------------

// dynalite in this process: its request handler is called with a stand-in request whose events fire
// synchronously, so anything it throws while validating is caught by the caller.
function dynaliteEngine () {
  const dynalite = require('dynalite')
  const handler = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }).listeners('request')[0]
  return function (req, body, options, done) {
    const fake = new EventEmitter()
    fake.headers = Object.assign({}, req.headers, { 'content-length': String(body.length) })
    fake.method = req.method
    fake.url = req.url
    const headers = {}
    const answer = {
      statusCode: 200,
      setHeader (name, value) { headers[name.toLowerCase()] = value },
      getHeader (name) { return headers[name.toLowerCase()] },
      removeHeader (name) { delete headers[name.toLowerCase()] },
      end (chunk) { done(answer.statusCode, headers, chunk ? Buffer.from(chunk) : Buffer.alloc(0)) },
    }
    try {
      handler(fake, answer)
      if (body.length) fake.emit('data', body)
      fake.emit('end')
    } catch (err) {
      const gap = dynaliteGap(err, body)
      if (!gap) throw err
      const text = Buffer.from(JSON.stringify(gap))
      done(400, { 'content-type': 'application/x-amz-json-1.0' }, text)
    }
  }
}

// DynamoDB's answer to the few malformed bodies that make dynalite throw instead of answering, or null.
function dynaliteGap (err, body) {
  if (err instanceof RangeError) { // its validation recurses: a deeply nested body overflows the stack
    return errorBody('com.amazon.coral.validate#ValidationException', 'Nesting Levels have exceeded supported limits')
  }
  let data
  try { data = JSON.parse(body.toString()) } catch { return null }
  if (!isObject(data)) return errorBody('com.amazon.coral.service#SerializationException')
  if (err instanceof TypeError) { // its validation reads into a null where a structure belongs ({"L": [null]})
    return errorBody('com.amazon.coral.validate#ValidationException',
      '1 validation error detected: a value is null where the request needs a structure')
  }
  return null
}

// Any DynamoDB endpoint on this machine, over keep-alive connections; the client's Host header is kept so that
// an engine that checks SigV4 signatures sees what the client signed.
function upstreamEngine (upstream) {
  const agent = new http.Agent({ keepAlive: true, noDelay: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' })
  return function ask (req, body, options, done, retried) {
    const headers = {}
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && name !== TOKEN_HEADER) headers[name] = value
    }
    headers['content-length'] = String(body.length)
    headers[VIA_HEADER] = (req.headers[VIA_HEADER] ? req.headers[VIA_HEADER] + ', ' : '') + PROXY_ID
    if (options.transform) headers['accept-encoding'] = 'identity' // the answer will be rewritten
    const outgoing = http.request({
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
      lookup: loopbackLookup,
    }, function (incoming) {
      const chunks = []
      incoming.on('data', function (chunk) { chunks.push(chunk) })
      incoming.on('end', function () { done(incoming.statusCode, incoming.headers, Buffer.concat(chunks)) })
      incoming.on('error', unreachable)
      incoming.on('close', function () { if (!incoming.complete) unreachable(new Error('the answer was cut off')) })
    })
    outgoing.setTimeout(120000, function () { outgoing.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })) })
    let failed = false
    function unreachable (err) {
      if (failed) return
      failed = true
      // A kept-alive socket the engine had closed: the request never reached it; send it once more.
      if (outgoing.reusedSocket && err.code === 'ECONNRESET' && !retried) {
        return ask(req, body, options, done, true)
      }
      stats.upstream_errors++
      done(502, {}, Buffer.from(JSON.stringify(errorBody(PREFIX + 'InternalServerError',
        'the conditions proxy could not reach its engine at ' + upstream.href + ' (' + (err.code || err.message) + ')'))))
    }
    outgoing.on('error', unreachable)
    outgoing.end(body)
  }
}

// ---- the proxy ----------------------------------------------------------------------------------------------

let args, conditions, capacity, upstream, engine, tls, auth, bulk
const hashKeys = new Map() // table -> its partition key's attribute name, from the CreateTable requests seen
const tables = validate.createTables(describeTable, Date.now, TABLE_TTL_MS)
const stats = { requests: 0, writes: 0, invalid: 0, throttled: 0, errors: 0, resets: 0, rejected: 0, upstream_errors: 0, internal_errors: 0, loops: 0, injected_ms: 0, auth_refused: {}, tls_server_names: {} }
try {
  args = parseArgs(process.argv.slice(2))
  conditions = validConditions(JSON.parse(args.conditions))
  capacity = createCapacity(JSON.parse(args.capacity))
  upstream = args.upstream ? validUpstream(args.upstream) : null
  if (!args['tls-cert'] !== !args['tls-key']) throw new Error('--tls-cert and --tls-key go together')
  tls = args['tls-cert'] ? { cert: fs.readFileSync(args['tls-cert']), key: fs.readFileSync(args['tls-key']) } : null
} catch (err) {
  announceFailure('BAD_ARGUMENTS', err.message)
}
try {
  if (args.secrets && args.secrets !== 'stdin') throw new Error('--secrets takes only "stdin"')
  if (args.secrets === 'stdin') {
    const secrets = readSecrets()
    TOKEN = secrets.token || ''
    CREDENTIALS = secrets.credentials || null
  }
  auth = CREDENTIALS ? createAuth(CREDENTIALS) : null
} catch (err) {
  announceFailure('BAD_ARGUMENTS', err instanceof SyntaxError ? 'the secrets line on stdin must be JSON' : err.message)
}
try {
  engine = upstream ? upstreamEngine(upstream) : dynaliteEngine()
  bulk = createBulk({ engine: engineCall(engine), capacity: function () { return capacity } })
} catch (err) {
  announceFailure('NO_DYNALITE', String(err.message).split('\n')[0], 3)
}

function announceFailure (code, message, exitCode) {
  console.log(JSON.stringify({ error: code, message }))
  process.exit(exitCode || 2)
}

function send (res, status, data, extraHeaders) {
  const body = Buffer.from(JSON.stringify(data))
  const headers = Object.assign({ 'content-type': 'application/x-amz-json-1.0' }, extraHeaders)
  reply(res, status, headers, body)
}

// Write an engine's (or our own) answer; the checksum header is recomputed when the body was rewritten.
function reply (res, status, headers, body) {
  if (res.headersSent || res.destroyed) return
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name.toLowerCase())) res.setHeader(name, value)
  }
  if (!('x-amz-crc32' in headers) && body.length && status !== 413) res.setHeader('x-amz-crc32', zlib.crc32(body))
  res.setHeader('content-length', body.length)
  res.statusCode = status
  res.end(body)
}

// Ask the engine; options.transform rewrites a 200 JSON answer; options.lose drops the answer (the write happens).
function forward (req, res, body, options) {
  options = options || {}
  try {
    engine(req, body, options, function (status, headers, answer) {
      if (options.lose) return req.socket.destroy()
      if (options.transform && status === 200) {
        let data = null
        try { data = JSON.parse(answer.toString()) } catch { data = null }
        if (data && typeof data === 'object' && !Array.isArray(data)) {
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
    internalError(res, err)
  }
}

function internalError (res, err) {
  stats.internal_errors++
  process.stderr.write('internal error: ' + String(err && err.stack ? err.stack : err).split('\n').slice(0, 2).join(' ') + '\n')
  send(res, 500, errorBody(PREFIX + 'InternalServerError', 'Internal server error'))
}

function isObject (value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
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

function faulty () {
  return conditions.throttle > 0 || conditions.error > 0 || conditions.reset > 0
}

// A write: validated first, as DynamoDB does (see validate.js): one it rejects whole goes to the engine untouched
// (or gets DynamoDB's error here), and only a valid one meets the faults and the capacity model.
function handleWrite (req, res, op, body) {
  const data = faulty() || capacity.config.mode !== 'off' ? wellFormedWrite(op, body) : null
  if (data === null) return forward(req, res, body)
  const invalid = validate.requestError(op, data)
  if (invalid) return refuseWhole(req, res, body, invalid)
  tables.lookup(req, validate.tableNames(op, data), function (found) {
    try {
      const wrong = validate.keyError(op, data, found)
      if (wrong) return refuseWhole(req, res, body, wrong)
      conditionWrite(req, res, op, body, data)
    } catch (err) {
      internalError(res, err)
    }
  })
}

function refuseWhole (req, res, body, invalid) {
  stats.invalid++
  if (invalid.answer) return send(res, invalid.status, invalid.body)
  forward(req, res, body)
}

// A table's description from the engine, asked with the write's credentials (cached in validate.js).
function describeTable (req, name, done) {
  engineCall(engine)('DescribeTable', { TableName: name }, req.headers).then(function (a) { done(a.status, a.data) })
}

// A valid write, with the faults drawn for it and the capacity model's verdict.
function conditionWrite (req, res, op, body, data) {
  const roll = faulty() ? Math.random() : 1
  let edge = conditions.reset
  if (roll < edge) {
    stats.resets++
    if (Math.random() < 0.5) return req.socket.destroy()
    return forward(req, res, body, { lose: true }) // the write happens, the answer is lost
  }
  if (roll < (edge += conditions.error)) {
    stats.errors++
    return send(res, 500, errorBody(PREFIX + 'InternalServerError', 'Injected internal server error'))
  }
  if (op === 'BatchWriteItem') return throttleBatch(req, res, body, data)
  if (roll < edge + conditions.throttle) {
    stats.throttled++
    return send(res, 400, THROTTLED)
  }
  const verdict = capacity.config.mode === 'off' ? null : capacity.admit(data.TableName, [charge(data.TableName, data.Item, 0)])
  if (verdict && verdict.refused.length) {
    stats.throttled++
    return send(res, 400, capacityThrottled(verdict.refused, data.TableName, req))
  }
  forward(req, res, body)
}

// What a write costs the table's capacity model, and where it lands: { key, wru }.
function charge (table, item, index) {
  let key = 'item ' + index
  try {
    const name = hashKeys.get(table)
    key = JSON.stringify(name && isObject(item) ? item[name] : item) || key
  } catch { /* too deep to serialise: its position will do */ }
  let wru = 1
  try { wru = writeUnits(item) } catch { /* as deep: one unit; the engine refuses such an item anyway */ }
  return { key, wru }
}

function batchCharge (table, request, index) {
  if (isObject(request.PutRequest)) return charge(table, request.PutRequest.Item, index)
  const deleted = isObject(request.DeleteRequest) ? request.DeleteRequest.Key : request
  return { key: charge(table, deleted, index).key, wru: 1 } // a delete: one unit (the lab deletes small items)
}

// DynamoDB's answer when the capacity model refuses everything: the exception and its ThrottlingReasons.
function capacityThrottled (refused, table, req) {
  const reasons = Array.from(new Set(refused.map(function (r) { return r.reason })))
  const onDemandCap = reasons.some(function (r) { return /MaxOnDemand|AccountLimit/.test(r) })
  const match = /Credential=[^/]*\/\d{8}\/([a-z0-9-]+)\//.exec(String(req.headers.authorization || ''))
  const arn = 'arn:aws:dynamodb:' + (match ? match[1] : 'us-east-1') + ':000000000000:table/' + table
  return {
    __type: PREFIX + (onDemandCap ? 'ThrottlingException' : 'ProvisionedThroughputExceededException'),
    message: onDemandCap
      ? 'Throughput exceeds the current throughput limit for the table (capacity model)'
      : 'The level of configured provisioned throughput for the table was exceeded (capacity model)',
    ThrottlingReasons: reasons.map(function (reason) { return { reason, resource: arn } }),
  }
}

// Hold back each item of a batch with the throttle probability, then the ones the capacity model refuses: they
// are removed from the request (really not written) and merged into the engine's UnprocessedItems.
function throttleBatch (req, res, body, data) {
  const kept = {}, held = {}, refused = []
  let keptCount = 0, heldCount = 0
  for (const [table, requests] of Object.entries(data.RequestItems)) {
    const candidates = requests.filter(function (request) {
      if (conditions.throttle > 0 && Math.random() < conditions.throttle) {
        ;(held[table] = held[table] || []).push(request)
        heldCount++
        return false
      }
      return true
    })
    const verdict = capacity.config.mode === 'off'
      ? { accepted: candidates.map(function (_, i) { return i }), refused: [] }
      : capacity.admit(table, candidates.map(function (request, i) { return batchCharge(table, request, i) }))
    for (const i of verdict.accepted) (kept[table] = kept[table] || []).push(candidates[i])
    for (const r of verdict.refused) (held[table] = held[table] || []).push(candidates[r.index])
    keptCount += verdict.accepted.length
    heldCount += verdict.refused.length
    refused.push.apply(refused, verdict.refused.map(function (r) { return Object.assign({ table }, r) }))
  }
  if (heldCount === 0) return forward(req, res, body)
  stats.throttled++
  if (keptCount === 0) {
    return send(res, 400, refused.length ? capacityThrottled(refused, refused[0].table, req) : THROTTLED)
  }
  data.RequestItems = kept
  let rewritten
  try { rewritten = Buffer.from(JSON.stringify(data)) } catch { return forward(req, res, body) } // too deep: the engine refuses it
  forward(req, res, rewritten, {
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

function authorized (req) {
  const given = Buffer.from(String(req.headers[TOKEN_HEADER] || ''))
  const expected = Buffer.from(TOKEN)
  return TOKEN.length > 0 && given.length === expected.length && crypto.timingSafeEqual(given, expected)
}

function handleLab (req, res, body) {
  if (!authorized(req)) {
    return send(res, 403, { message: 'the lab control endpoints need the ' + TOKEN_HEADER + ' header of the lab that started this server' })
  }
  const statsUrl = /^\/__lab\/stats(?:\?since=([0-9]+(?:\.[0-9]+)?))?$/.exec(req.url)
  if (statsUrl && req.method === 'GET') { // ?since=UNIX_SECONDS: each table's capacity figures from then on
    const since = statsUrl[1] === undefined ? undefined : Number(statsUrl[1])
    return send(res, 200, Object.assign({ conditions, backend: upstream ? upstream.href : 'dynalite' }, stats,
      { capacity: capacity.stats(since) }))
  }
  if (req.url === '/__lab/capacity') {
    if (req.method === 'POST') {
      try {
        capacity = createCapacity(JSON.parse(body.toString())) // a fresh model: every table starts anew
      } catch (err) {
        return send(res, 400, { message: err instanceof SyntaxError ? 'capacity must be JSON: ' + err.message : err.message })
      }
    } else if (req.method !== 'GET') {
      return send(res, 405, { message: 'use GET or POST on /__lab/capacity' })
    }
    return send(res, 200, capacity.config)
  }
  if (req.url === '/__lab/bulk') {
    try {
      return send(res, 200, req.method === 'POST' ? bulk.configure(JSON.parse(body.toString())) : bulk.describeModel())
    } catch (err) {
      return send(res, 400, { message: err.message })
    }
  }
  if (req.url !== '/__lab/conditions') return send(res, 404, { message: 'unknown lab endpoint ' + req.method + ' ' + req.url })
  if (req.method === 'POST') {
    try {
      conditions = validConditions(JSON.parse(body.toString()))
    } catch (err) {
      return send(res, 400, { message: err instanceof SyntaxError ? 'conditions must be JSON: ' + err.message : err.message })
    }
  } else if (req.method !== 'GET') {
    return send(res, 405, { message: 'use GET or POST on /__lab/conditions' })
  }
  send(res, 200, conditions)
}

// A new (or deleted) table starts its capacity model afresh; a new one tells us its partition key.
function noteTable (op, body) {
  let data
  try { data = JSON.parse(body.toString()) } catch { return }
  if (!isObject(data) || typeof data.TableName !== 'string') return
  tables.forget(data.TableName)
  if (op === 'UpdateTable') return // its indexes may change; its keys and capacity model stay
  capacity.forget(data.TableName)
  hashKeys.delete(data.TableName)
  const hash = op === 'CreateTable' && Array.isArray(data.KeySchema) &&
    data.KeySchema.find(function (k) { return isObject(k) && k.KeyType === 'HASH' && typeof k.AttributeName === 'string' })
  if (hash) hashKeys.set(data.TableName, hash.AttributeName)
}

function tooLarge (req, res, limit) {
  stats.rejected++
  res.on('finish', function () { req.socket.destroy() })
  send(res, 413, errorBody('com.amazon.coral.service#SerializationException',
    'Request body too large: the limit is ' + limit + ' bytes'), { connection: 'close' })
}

function handle (req, res, body) {
  if (req.url.startsWith('/__lab/')) return handleLab(req, res, body)
  stats.requests++
  if (String(req.headers[VIA_HEADER] || '').split(', ').includes(PROXY_ID)) {
    stats.loops++
    return send(res, LOOP_STATUS, errorBody(PREFIX + 'InternalServerError', 'the conditions proxy received its own ' +
      'request back: its upstream leads to itself (a loop); point --upstream at the engine'))
  }
  const op = String(req.headers['x-amz-target'] || '').split('.')[1] || ''
  const go = function () {
    try {
      const refused = auth ? auth(req, body, Date.now()) : null
      if (refused) {
        const type = refused.body.__type.split('#')[1]
        stats.auth_refused[type] = (stats.auth_refused[type] || 0) + 1
        return send(res, refused.status, refused.body)
      }
      if (bulk.handles(op) && req.method === 'POST') {
        return bulk.request(op, body, req).then(function (a) { send(res, a.status, a.data) }, function (err) { internalError(res, err) })
      }
      if (op === 'CreateTable' || op === 'DeleteTable' || op === 'UpdateTable') noteTable(op, body) // only a request that is let through
      if (WRITE_OPS.has(op) && req.method === 'POST') {
        stats.writes++
        return handleWrite(req, res, op, body)
      }
      forward(req, res, body)
    } catch (err) {
      internalError(res, err)
    }
  }
  const delay = conditions.latency_ms + Math.random() * conditions.jitter_ms
  stats.injected_ms += delay // the latency injected, summed (the traffic report of `python -m core proxy`)
  if (delay > 0) setTimeout(go, delay)
  else go()
}

function listener (req, res) {
  req.on('error', function () {})
  res.on('error', function () {})
  const limit = req.url.startsWith('/__lab/') ? MAX_LAB_BODY_BYTES : MAX_BODY_BYTES
  const declared = Number(req.headers['content-length'])
  if (declared > limit) return tooLarge(req, res, limit)
  const chunks = []
  let size = 0
  req.on('data', function (chunk) {
    size += chunk.length
    if (size > limit) {
      req.removeAllListeners('data')
      req.removeAllListeners('end')
      req.pause()
      chunks.length = 0
      return tooLarge(req, res, limit)
    }
    chunks.push(chunk)
  })
  req.on('end', function () {
    try {
      handle(req, res, Buffer.concat(chunks, size))
    } catch (err) {
      internalError(res, err)
    }
  })
}
const server = tls ? https.createServer(tls, listener) : http.createServer(listener)
if (tls) { // the host names clients asked for (SNI), counted: a client that verifies host names sends one
  server.on('secureConnection', function (socket) {
    const name = socket.servername || '(none)'
    stats.tls_server_names[name] = (stats.tls_server_names[name] || 0) + 1
  })
}
server.keepAliveTimeout = 60000
server.headersTimeout = 65000

server.on('error', function (err) {
  announceFailure(err.code || 'ERROR', err.message)
})
server.on('clientError', function (err, socket) {
  if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy()
  socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
})
server.listen(Number(args.port), args.host, function () {
  console.log(JSON.stringify({ port: server.address().port, pid: process.pid, backend: upstream ? upstream.href : 'dynalite',
    tls: Boolean(tls), auth: Boolean(auth) }))
})

// The last resort: an engine's asynchronous failure must not take the server (and every other request) down.
process.on('uncaughtException', function (err) {
  stats.internal_errors++
  process.stderr.write('uncaught: ' + String(err && err.stack ? err.stack : err).split('\n').slice(0, 2).join(' ') + '\n')
})
process.stdin.on('end', function () { process.exit(0) })
process.stdin.on('error', function () { process.exit(0) })
process.stdin.resume()
process.on('SIGTERM', function () { process.exit(0) })
process.on('SIGINT', function () { process.exit(0) })
