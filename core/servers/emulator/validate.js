// Which writes DynamoDB rejects whole: asked before any injected condition (fault or capacity model) acts on one.
//
// Contract: DynamoDB validates a request (its shape, its sizes, the table, the keys) before it would throttle it,
// and a request it rejects is rejected whole, nothing written. The proxy asks this module first and hands such a
// request to its engine untouched, so the engine's own error answers it (the one rule dynalite lacks, more than 25
// requests in one BatchWriteItem across tables, is answered here with DynamoDB's error). The rules are dynalite's
// (its validation modules, which mirror DynamoDB's messages) and apply the same way in front of every engine.
//   requestError(op, data): pure; the error of a well-formed PutItem / BatchWriteItem body alone (types, values,
//     per-table batch size, item size, expressions), as { status, body, answer } (answer: the proxy answers it
//     itself, else it goes to the engine), or null.
//   keyError(op, data, tables): pure; the error of its keys against the tables' descriptions (a Map from table
//     name to DescribeTable's Table, null for a missing table, undefined when unknown: then nothing is checked),
//     or null. A missing or not ACTIVE table is an error (the engine answers ResourceNotFoundException).
//   createTables(describe, clock, ttlMs): the tables' descriptions, asked with describe(req, name, done(status,
//     answer)) and kept ttlMs per credential scope (DynamoDB Local keeps one database per access key and region);
//     only a found table is kept; forget(name) on CreateTable/UpdateTable/DeleteTable.
'use strict'

const validations = require('dynalite/validations')
const db = require('dynalite/db')
const RULES = {
  PutItem: require('dynalite/validations/putItem'),
  BatchWriteItem: require('dynalite/validations/batchWriteItem'),
}
const STORE = { options: { maxItemSize: db.MAX_SIZE } } // 400 KB, DynamoDB's item limit
const MAX_BATCH_REQUESTS = 25
const MAX_KEPT_TABLES = 1024
const USABLE = new Set(['ACTIVE', 'UPDATING'])

function validationError (message) {
  return { status: 400, body: { __type: 'com.amazon.coral.validate#ValidationException', message }, answer: false }
}

function requestError (op, data) {
  const rules = RULES[op]
  try {
    const checked = validations.checkTypes(Object.assign({}, data), rules.types)
    validations.checkValidations(checked, rules.types, rules.custom, STORE)
  } catch (err) {
    if (err && err.statusCode) return { status: err.statusCode, body: err.body, answer: false }
    return validationError('the engine refuses this request (' + String(err && err.message) + ')')
  }
  if (op === 'BatchWriteItem') {
    let count = 0
    for (const requests of Object.values(data.RequestItems)) count += requests.length
    if (count > MAX_BATCH_REQUESTS) {
      return Object.assign(validationError('Too many items requested for the BatchWriteItem call'), { answer: true })
    }
  }
  return null
}

function tableNames (op, data) {
  return op === 'PutItem' ? [data.TableName] : Object.keys(data.RequestItems)
}

function keyError (op, data, tables) {
  for (const name of tableNames(op, data)) {
    const table = tables.get(name)
    if (table === null) return { status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' }, answer: false }
    if (table === undefined) continue
    const requests = op === 'PutItem' ? [{ PutRequest: { Item: data.Item } }] : data.RequestItems[name]
    const seen = new Set()
    for (const request of requests) {
      const put = request.PutRequest
      const invalid = put ? db.validateItem(put.Item, table) : db.validateKey(request.DeleteRequest.Key, table)
      if (invalid) return { status: invalid.statusCode, body: invalid.body, answer: false }
      const key = db.createKey(put ? put.Item : request.DeleteRequest.Key, table)
      if (seen.has(key)) return validationError('Provided list of item keys contains duplicates')
      seen.add(key)
    }
  }
  return null
}

// The credential scope a request is answered in: its access key and region ('' when unsigned).
function scopeOf (req) {
  const match = /Credential=([^/,\s]*)\/\d{8}\/([a-z0-9-]+)\//.exec(String(req.headers.authorization || ''))
  return match ? match[1] + '/' + match[2] : ''
}

function createTables (describe, clock, ttlMs) {
  const kept = new Map() // scope + '\n' + name -> { at, table }
  const waiting = new Map() // the same key -> callbacks of the lookups waiting for one DescribeTable
  let generation = 0 // a forget() while a DescribeTable is out: its answer is not kept

  function one (req, name, done) {
    const key = scopeOf(req) + '\n' + name
    const hit = kept.get(key)
    if (hit && clock() - hit.at < ttlMs) return done(hit.table)
    if (waiting.has(key)) return waiting.get(key).push(done)
    waiting.set(key, [done])
    const asked = generation
    describe(req, name, function (status, answer) {
      let table
      if (status === 200 && answer && answer.Table) table = USABLE.has(answer.Table.TableStatus) ? answer.Table : null
      else if (answer && /ResourceNotFoundException$/.test(String(answer.__type))) table = null
      if (table && asked === generation) {
        if (kept.size >= MAX_KEPT_TABLES) kept.clear()
        kept.set(key, { at: clock(), table })
      }
      const callbacks = waiting.get(key)
      waiting.delete(key)
      for (const callback of callbacks) callback(table)
    })
  }

  return {
    lookup (req, names, done) {
      const found = new Map()
      let left = names.length
      if (!left) return done(found)
      for (const name of names) {
        one(req, name, function (table) {
          found.set(name, table)
          if (--left === 0) done(found)
        })
      }
    },
    forget (name) {
      generation++
      for (const key of kept.keys()) if (key.endsWith('\n' + name)) kept.delete(key)
    },
  }
}

module.exports = { requestError, keyError, tableNames, createTables, scopeOf, MAX_BATCH_REQUESTS }
