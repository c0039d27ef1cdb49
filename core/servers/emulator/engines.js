// The proxy's engines: dynalite in this process, or a DynamoDB endpoint on this machine (--upstream).
//
// An engine is a function (req, body, options, done(status, headers, body)): req is the client's request (its
// method, url and headers are read, never its stream), body the request's bytes. Either engine always calls done
// once, also when the engine fails (the upstream engine answers 502 when its endpoint cannot be reached); the
// dynalite engine may throw synchronously on a body it cannot handle and DynamoDB would refuse (the caller answers
// 500). Only loopback upstreams are accepted (validUpstream), and their names resolve to loopback addresses only
// (loopbackLookup): the proxy never sends anything off the machine.
'use strict'

const http = require('http')
const dns = require('dns')
const net = require('net')
const { EventEmitter } = require('events')
const { PREFIX, CONTENT_TYPE, HOP_BY_HOP, errorBody, isObject } = require('./answers.js')
const { TOKEN_HEADER } = require('./control.js') // the control endpoints' token: never passed on

// Every request the proxy sends upstream carries its id in this header (after any earlier proxies' ids): a request
// that comes back with it is a loop, however the upstream URL is spelt, and is refused at once.
const VIA_HEADER = 'x-lab-proxy-via'
const UPSTREAM_TIMEOUT_MS = 120000

// Only an http:// endpoint on this machine: { hostname, port, href } or an Error naming what is wrong.
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

// dynalite in this process: its request handler is called with a stand-in request whose events fire
// synchronously, so anything it throws while validating is caught here (or by the caller). Throws when dynalite
// cannot be loaded.
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
      done(400, { 'content-type': CONTENT_TYPE }, Buffer.from(JSON.stringify(gap)))
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

// Any DynamoDB endpoint on this machine (`upstream` from validUpstream), over keep-alive connections; the client's
// Host header is kept so that an engine that checks SigV4 signatures sees what the client signed. proxyId goes
// into the via header; onUnreachable(err) is told of each request answered 502 because the endpoint failed.
// options.transform (set by the caller) asks for an uncompressed answer.
function upstreamEngine (upstream, proxyId, onUnreachable) {
  const agent = new http.Agent({ keepAlive: true, noDelay: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' })
  return function ask (req, body, options, done, retried) {
    const headers = {}
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && name !== TOKEN_HEADER) headers[name] = value
    }
    headers['content-length'] = String(body.length)
    headers[VIA_HEADER] = (req.headers[VIA_HEADER] ? req.headers[VIA_HEADER] + ', ' : '') + proxyId
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
    outgoing.setTimeout(UPSTREAM_TIMEOUT_MS, function () { outgoing.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })) })
    let failed = false
    function unreachable (err) {
      if (failed) return
      failed = true
      // A kept-alive socket the engine had closed: the request never reached it; send it once more.
      if (outgoing.reusedSocket && err.code === 'ECONNRESET' && !retried) {
        return ask(req, body, options, done, true)
      }
      onUnreachable(err)
      done(502, {}, Buffer.from(JSON.stringify(errorBody(PREFIX + 'InternalServerError',
        'the conditions proxy could not reach its engine at ' + upstream.href + ' (' + (err.code || err.message) + ')'))))
    }
    outgoing.on('error', unreachable)
    outgoing.end(body)
  }
}

module.exports = { validUpstream, isLoopbackAddress, isLoopbackName, loopbackLookup, dynaliteEngine, dynaliteGap, upstreamEngine, VIA_HEADER }
