// Capacity admission: the proxy's capacity model (capacity.js) applied to the writes it lets through.
//
// createAdmission(config, clock) holds the current model and each table's partition key (learnt from the
// CreateTable requests seen, so that writes are charged to the partition of their key): admitPut and admitBatch
// charge a write's items (one WRU per started KB of each put, one per delete) and return the model's verdict
// { accepted: [index], refused: [{ index, reason }] }; configure(config) replaces the model (every table starts
// anew, the keys learnt stay); tableChanged(op, request) starts a created or deleted table's model afresh.
// capacityRefusal() is DynamoDB's answer when nothing of a write was admitted.
'use strict'

const { createCapacity, writeUnits } = require('./capacity.js')
const { PREFIX, isObject } = require('./answers.js')

// What writing `item` costs and where it lands: { key, wru } (key: its partition key's value as JSON, else its
// position in the request, when there is no key to read or it is too deep to serialise).
function chargeOf (keyName, item, index) {
  let key = 'item ' + index
  try {
    key = JSON.stringify(keyName && isObject(item) ? item[keyName] : item) || key
  } catch { /* too deep to serialise: its position will do */ }
  let wru = 1
  try { wru = writeUnits(item) } catch { /* as deep: one unit; the engine refuses such an item anyway */ }
  return { key, wru }
}

// One request of a BatchWriteItem: a put costs its item's units, a delete one unit (the lab deletes small items).
function batchChargeOf (keyName, request, index) {
  if (isObject(request.PutRequest)) return chargeOf(keyName, request.PutRequest.Item, index)
  const deleted = isObject(request.DeleteRequest) ? request.DeleteRequest.Key : request
  return { key: chargeOf(keyName, deleted, index).key, wru: 1 }
}

// DynamoDB's answer when the capacity model refuses a whole write: the exception and its ThrottlingReasons, for
// `table` in the region the request was signed for (us-east-1 when unsigned).
function capacityRefusal (refused, table, authorization) {
  const reasons = Array.from(new Set(refused.map(function (r) { return r.reason })))
  const onDemandCap = reasons.some(function (r) { return /MaxOnDemand|AccountLimit/.test(r) })
  const match = /Credential=[^/]*\/\d{8}\/([a-z0-9-]+)\//.exec(String(authorization || ''))
  const arn = 'arn:aws:dynamodb:' + (match ? match[1] : 'us-east-1') + ':000000000000:table/' + table
  return {
    __type: PREFIX + (onDemandCap ? 'ThrottlingException' : 'ProvisionedThroughputExceededException'),
    message: onDemandCap
      ? 'Throughput exceeds the current throughput limit for the table (capacity model)'
      : 'The level of configured provisioned throughput for the table was exceeded (capacity model)',
    ThrottlingReasons: reasons.map(function (reason) { return { reason, resource: arn } }),
  }
}

// config: the capacity settings' JSON form (capacity.js validates it and throws on a bad one); clock() in seconds.
function createAdmission (config, clock) {
  let model = createCapacity(config, clock)
  const hashKeys = new Map() // table -> its partition key's attribute name

  return {
    get config () { return model.config },
    get on () { return model.config.mode !== 'off' },
    model () { return model },
    configure (next) {
      model = createCapacity(next, clock)
      return model.config
    },
    stats (since) { return model.stats(since) },
    // A CreateTable, DeleteTable or UpdateTable let through to the engine (`request` its parsed body).
    tableChanged (op, request) {
      if (!isObject(request) || typeof request.TableName !== 'string') return
      if (op === 'UpdateTable') return // its indexes may change; its keys and capacity model stay
      model.forget(request.TableName)
      hashKeys.delete(request.TableName)
      const hash = op === 'CreateTable' && Array.isArray(request.KeySchema) &&
        request.KeySchema.find(function (k) { return isObject(k) && k.KeyType === 'HASH' && typeof k.AttributeName === 'string' })
      if (hash) hashKeys.set(request.TableName, hash.AttributeName)
    },
    // A PutItem's verdict (one item, index 0), or null when the model is off.
    admitPut (table, item) {
      if (model.config.mode === 'off') return null
      return model.admit(table, [chargeOf(hashKeys.get(table), item, 0)])
    },
    // The verdict on one table's requests of a batch, in order; all accepted when the model is off.
    admitBatch (table, requests) {
      if (model.config.mode === 'off') return { accepted: requests.map(function (_, i) { return i }), refused: [] }
      const keyName = hashKeys.get(table)
      return model.admit(table, requests.map(function (request, i) { return batchChargeOf(keyName, request, i) }))
    },
  }
}

module.exports = { createAdmission, chargeOf, batchChargeOf, capacityRefusal }
