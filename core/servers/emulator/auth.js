// SigV4 checking for the conditions proxy, as DynamoDB does it, independent of the lab's own signer.
//
// Contract: createAuth(secrets, options) takes the access key ids the proxy accepts, each with its secret
// ({AKID: SECRET}), and returns check(req, body, nowMs): null when the request is signed right, else DynamoDB's
// own refusal {status, body} (HTTP 400, a com.amazon.coral.service# error type and AWS's message):
//   no Authorization header          MissingAuthenticationTokenException
//   a header that is not SigV4       IncompleteSignatureException
//   an access key id it was not told UnrecognizedClientException "The security token included in the request is
//                                    invalid."
//   X-Amz-Date more than 5 minutes   InvalidSignatureException "Signature expired: D is now earlier than ..." (or
//   from the server's clock          "Signature not yet current: D is still later than ..." for a date ahead)
//   any other mismatch               InvalidSignatureException "The request signature we calculated does not
//                                    match the signature you provided. ..."
// The signature is recomputed by the npm package aws4 (a long-kept SigV4 implementation, not the lab's signer)
// over exactly the headers the client says it signed. Secrets are kept in this closure only: never logged, never
// in an answer or in the proxy's stats; check() is pure apart from aws4's key cache (nowMs is passed in).
'use strict'

const crypto = require('crypto')
const aws4 = require('aws4')

const PREFIX = 'com.amazon.coral.service#'
const SKEW_MS = 5 * 60 * 1000 // AWS refuses a signature dated more than 5 minutes from its clock
const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const MISMATCH = 'The request signature we calculated does not match the signature you provided. Check your AWS ' +
  'Secret Access Key and signing method. Consult the service documentation for details.'

function refusal (type, message) {
  return { status: 400, body: { __type: PREFIX + type, message } }
}

// 20260101T000000Z <-> milliseconds since the epoch (null when it is not such a date).
function parseAmzDate (text) {
  const m = AMZ_DATE.exec(String(text || ''))
  if (!m) return null
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
  return Number.isNaN(ms) || formatAmzDate(ms) !== m[0] ? null : ms // month 13 or 25 o'clock: not a date
}

function formatAmzDate (ms) {
  return new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, '')
}

// AWS's wording for a request dated too far from the server's clock, or null when it is within 5 minutes.
function skewed (dated, nowMs) {
  const date = formatAmzDate(dated)
  if (dated < nowMs - SKEW_MS) {
    return 'Signature expired: ' + date + ' is now earlier than ' + formatAmzDate(nowMs - SKEW_MS) +
      ' (' + formatAmzDate(nowMs) + ' - 5 min.)'
  }
  if (dated > nowMs + SKEW_MS) {
    return 'Signature not yet current: ' + date + ' is still later than ' + formatAmzDate(nowMs + SKEW_MS) +
      ' (' + formatAmzDate(nowMs) + ' + 5 min.)'
  }
  return null
}

function validSecrets (secrets) {
  if (secrets === null || typeof secrets !== 'object' || Array.isArray(secrets) || !Object.keys(secrets).length) {
    throw new Error('credentials must be a JSON object of access key id -> secret, with at least one key')
  }
  for (const [id, secret] of Object.entries(secrets)) {
    if (!/^[A-Za-z0-9_+=,.@-]+$/.test(id) || typeof secret !== 'string' || !secret) {
      throw new Error('each credential needs an access key id of letters and digits and a non-empty secret')
    }
  }
  return Object.assign(Object.create(null), secrets)
}

function createAuth (secrets) {
  const known = validSecrets(secrets)
  return function check (req, body, nowMs) {
    const header = req.headers.authorization
    if (!header) return refusal('MissingAuthenticationTokenException', 'Request is missing Authentication Token')
    const parts = AUTH.exec(String(header).trim())
    if (!parts) {
      return refusal('IncompleteSignatureException', 'Authorization header requires \'Credential\', ' +
        '\'Signature\' and \'SignedHeaders\' parameters of an AWS4-HMAC-SHA256 signature.')
    }
    const [, keyId, scopeDate, region, service, signedHeaders, given] = parts
    if (!(keyId in known)) return refusal('UnrecognizedClientException', 'The security token included in the request is invalid.')
    const amzDate = req.headers['x-amz-date']
    const dated = parseAmzDate(amzDate)
    if (dated === null || !amzDate.startsWith(scopeDate)) {
      return refusal('IncompleteSignatureException', 'Date must be in ISO-8601 \'basic format\' in the X-Amz-Date ' +
        'header, and its day must be the credential scope\'s.')
    }
    const late = skewed(dated, nowMs)
    if (late) return refusal('InvalidSignatureException', late)
    const names = signedHeaders.split(';')
    const headers = {}
    const include = Object.create(null)
    for (const name of names) {
      const value = req.headers[name]
      if (value === undefined) return refusal('InvalidSignatureException', MISMATCH)
      headers[name] = Array.isArray(value) ? value.join(',') : value
      include[name] = true // sign what the client signed, even headers aws4 leaves out by default (user-agent)
    }
    const signer = new aws4.RequestSigner({
      method: req.method,
      path: req.url,
      headers,
      body,
      service,
      region,
      doNotModifyHeaders: true,
      extraHeadersToInclude: include,
    }, { accessKeyId: keyId, secretAccessKey: known[keyId] })
    signer.datetime = amzDate // with doNotModifyHeaders aws4 would otherwise take the current time
    const expected = Buffer.from(signer.signature())
    const actual = Buffer.from(given)
    if (expected.length !== actual.length || !crypto.timingSafeEqual(expected, actual)) {
      return refusal('InvalidSignatureException', MISMATCH)
    }
    return null
  }
}

module.exports = { createAuth, parseAmzDate, formatAmzDate, skewed, SKEW_MS }
