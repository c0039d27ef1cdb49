// The lab's control endpoints (/__lab/...): the proxy's counters, and its conditions, capacity model and bulk put
// settings, read and replaced at run time.
//
// controlAnswer(state, method, url, headers, body) -> { status, data }, the answer to send (no I/O): a request
// without the x-lab-token header equal to state.token gets 403 (every request does when the token is empty);
// a POST is validated as the CLI validates it and replaces the setting only when valid (400 with the reason
// otherwise). state: { token, conditions, admission, bulk, stats, backend } (createProxy's state; conditions is
// replaced on a POST). Endpoints:
//   GET /__lab/stats[?since=UNIX_SECONDS]   the counters, conditions, backend and the capacity model's figures
//   GET|POST /__lab/conditions              the network conditions (faults.js)
//   GET|POST /__lab/capacity                the capacity model (a POST starts every table's model afresh)
//   GET|POST /__lab/bulk                    the bulk put model; a POST may set S3 and its keys, never answered
'use strict'

const crypto = require('crypto')
const { validConditions } = require('./faults.js')

const TOKEN_HEADER = 'x-lab-token'
const STATS = /^\/__lab\/stats(?:\?since=([0-9]+(?:\.[0-9]+)?))?$/

// Whether `given` (the header's value) is the token, compared in constant time; never with an empty token.
function authorized (token, given) {
  const presented = Buffer.from(String(given || ''))
  const expected = Buffer.from(token)
  return token.length > 0 && presented.length === expected.length && crypto.timingSafeEqual(presented, expected)
}

function badJson (what, err) {
  return { status: 400, data: { message: err instanceof SyntaxError ? what + ' must be JSON: ' + err.message : err.message } }
}

function controlAnswer (state, method, url, headers, body) {
  if (!authorized(state.token, headers[TOKEN_HEADER])) {
    return { status: 403, data: { message: 'the lab control endpoints need the ' + TOKEN_HEADER + ' header of the lab that started this server' } }
  }
  const stats = STATS.exec(url)
  if (stats && method === 'GET') { // ?since=UNIX_SECONDS: each table's capacity figures from then on
    const since = stats[1] === undefined ? undefined : Number(stats[1])
    return { status: 200, data: Object.assign({ conditions: state.conditions, backend: state.backend }, state.stats, { capacity: state.admission.stats(since) }) }
  }
  if (url === '/__lab/capacity') {
    if (method === 'POST') {
      try {
        state.admission.configure(JSON.parse(body.toString()))
      } catch (err) {
        return badJson('capacity', err)
      }
    } else if (method !== 'GET') {
      return { status: 405, data: { message: 'use GET or POST on /__lab/capacity' } }
    }
    return { status: 200, data: state.admission.config }
  }
  if (url === '/__lab/bulk') {
    try {
      return { status: 200, data: method === 'POST' ? state.bulk.configure(JSON.parse(body.toString())) : state.bulk.describeModel() }
    } catch (err) {
      return { status: 400, data: { message: err.message } }
    }
  }
  if (url !== '/__lab/conditions') return { status: 404, data: { message: 'unknown lab endpoint ' + method + ' ' + url } }
  if (method === 'POST') {
    try {
      state.conditions = validConditions(JSON.parse(body.toString()))
    } catch (err) {
      return badJson('conditions', err)
    }
  } else if (method !== 'GET') {
    return { status: 405, data: { message: 'use GET or POST on /__lab/conditions' } }
  }
  return { status: 200, data: state.conditions }
}

module.exports = { controlAnswer, authorized, TOKEN_HEADER }
