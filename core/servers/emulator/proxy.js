// createProxy(config, deps): one conditions proxy (or embedded emulator), its state and its HTTP(S) server, not
// listening yet: the caller listens (server.listen(port, host)) and owns the process.
//
// config (what the lab hands over; each checked here, an Error with a one-line reason when wrong):
//   conditions   the network conditions' JSON form (faults.js), {} for none
//   capacity     the capacity model's JSON form (capacity.js), {} for off
//   upstream     '' for dynalite in this process, else an http:// loopback URL of a DynamoDB engine
//   tls          { cert, key } (PEM) to serve HTTPS, or null
//   token        the control endpoints' token ('' disables them), credentials { AKID: SECRET } or null: with
//                key pairs every DynamoDB request's SigV4 signature is checked (auth.js)
// deps (all optional, injected by the unit tests): engine (engines.js's shape; else built from config.upstream),
//   random() in [0, 1), now() in ms, schedule(fn, ms) (setTimeout), log(line) (stderr), proxyId.
// Loading dynalite can fail (not installed): that Error has code 'NO_DYNALITE'.
// Returns { state, server, backend }: state is the one object every part reads (pipeline.js, control.js):
//   { token, backend, proxyId, conditions, admission, tables, engine, bulk, auth, stats, random, now, schedule, log }.
'use strict'

const http = require('http')
const https = require('https')
const crypto = require('crypto')
const validate = require('./validate.js')
const { createAuth } = require('./auth.js')
const { createBulk, engineCall } = require('./bulkput.js')
const { createAdmission } = require('./admission.js')
const { validConditions } = require('./faults.js')
const { dynaliteEngine, upstreamEngine, validUpstream } = require('./engines.js')
const { receive } = require('./pipeline.js')

const TABLE_TTL_MS = 1000 // how long a table's description is trusted for validating writes (forgotten on changes)
const KEEP_ALIVE_MS = 60000

function newStats () {
  return { requests: 0, writes: 0, invalid: 0, throttled: 0, errors: 0, resets: 0, rejected: 0, upstream_errors: 0, internal_errors: 0, loops: 0, injected_ms: 0, auth_refused: {}, tls_server_names: {} }
}

function createProxy (config, deps) {
  deps = deps || {}
  const now = deps.now || Date.now
  const clock = function () { return now() / 1000 }
  const conditions = validConditions(config.conditions === undefined ? {} : config.conditions)
  const admission = createAdmission(config.capacity === undefined ? {} : config.capacity, clock)
  const upstream = config.upstream ? validUpstream(config.upstream) : null
  const tls = config.tls || null
  if (tls && !(tls.cert && tls.key)) throw new Error('tls needs both a cert and a key')
  const token = config.token || ''
  if (typeof token !== 'string') throw new Error('the token must be a string')
  const auth = config.credentials ? createAuth(config.credentials) : null
  const stats = newStats()
  const proxyId = deps.proxyId || crypto.randomBytes(12).toString('base64url')
  let engine = deps.engine
  if (!engine && upstream) engine = upstreamEngine(upstream, proxyId, function () { stats.upstream_errors++ })
  if (!engine) {
    try {
      engine = dynaliteEngine()
    } catch (err) {
      throw Object.assign(new Error(String(err.message).split('\n')[0]), { code: 'NO_DYNALITE' })
    }
  }
  const state = {
    token,
    backend: upstream ? upstream.href : 'dynalite',
    proxyId,
    conditions,
    admission,
    engine,
    auth,
    stats,
    random: deps.random || Math.random,
    now,
    schedule: deps.schedule || setTimeout,
    log: deps.log || function (line) { process.stderr.write(line) },
  }
  const call = engineCall(engine)
  // A table's description from the engine, asked with the write's credentials (kept a while by validate.js).
  state.tables = validate.createTables(function (req, name, done) {
    call('DescribeTable', { TableName: name }, req.headers).then(function (a) { done(a.status, a.data) })
  }, now, TABLE_TTL_MS)
  state.bulk = createBulk({ engine: call, capacity: admission.model, clock })

  const listener = function (req, res) { receive(state, req, res) }
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener)
  if (tls) { // the host names clients asked for (SNI), counted: a client that verifies host names sends one
    server.on('secureConnection', function (socket) {
      const name = socket.servername || '(none)'
      stats.tls_server_names[name] = (stats.tls_server_names[name] || 0) + 1
    })
  }
  server.keepAliveTimeout = KEEP_ALIVE_MS
  server.headersTimeout = KEEP_ALIVE_MS + 5000
  server.on('clientError', function (err, socket) {
    if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy()
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  })
  return { state, server, backend: state.backend }
}

module.exports = { createProxy }
