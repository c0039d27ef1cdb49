// DynamoDB-shaped answers of the conditions proxy: error bodies and writing one answer to an HTTP response.
//
// reply() drops hop-by-hop headers and adds DynamoDB's x-amz-crc32 checksum of the body when the headers lack it
// (an answer rewritten here), so that SDKs that check it accept the proxy's own answers; it does nothing once the
// response is sent or its socket is gone.
'use strict'

const zlib = require('zlib')

const PREFIX = 'com.amazonaws.dynamodb.v20120810#'
const CONTENT_TYPE = 'application/x-amz-json-1.0'
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length'])

function errorBody (type, message) {
  return message === undefined ? { __type: type } : { __type: type, message }
}

function isObject (value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
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

// A JSON answer of our own.
function send (res, status, data, extraHeaders) {
  const body = Buffer.from(JSON.stringify(data))
  reply(res, status, Object.assign({ 'content-type': CONTENT_TYPE }, extraHeaders), body)
}

module.exports = { PREFIX, CONTENT_TYPE, HOP_BY_HOP, errorBody, isObject, reply, send }
