// The capacity model of the conditions proxy: which writes a DynamoDB table would take now, and why it refuses.
//
// Contract: pure, with the clock injected (createCapacity(config, clock), clock() in seconds); no I/O. The rules
// and their sources are in core/domain/capacity.py's docstring (the Python Capacity that sends `config`):
//   - WRU: one per started KB of each item (itemSize follows DynamoDB's published item-size rules); a delete: 1.
//   - Partitions by key range of a stable hash (FNV-1a, mixed) of the partition key; each a token bucket of 1,000 WRU/s holding one
//     second of burst. Provisioned: ceil(WCU / 1000) partitions; on-demand: ceil(allowance / 1000).
//   - provisioned: a table bucket refilled at WCU/s holding 300 s of burst (starts full).
//   - on-demand: allowance = max(4000 or warm, 2 x previous peak WRU in one second), capped by max and by the
//     account's 40,000 WRU/s per-table quota; a one-second table bucket enforces the caps.
// admit(table, items) takes the items (in order) while capacity lasts and says why the others were refused:
// a batch is partially processed, as DynamoDB does. forget(table) is a new table (CreateTable).
// stats(since) gives, besides the server-wide figures, per table what a run report needs, cut to the seconds from
// `since` (unix seconds; all that is kept without it): WRU consumed per second, write requests (refused: nothing
// written; partial: a batch that wrote some), throttled items by reason, and per second the table's capacity line
// (provisioned WCU, or the on-demand allowance as it grows), its partitions and the burst it held. Memory is
// bounded: per table the last LOG_SECONDS seconds that saw writes, and at most MAX_TABLES tables.
'use strict'

// DynamoDB's published numbers, shared with core/domain/capacity.py (and the planner) through one file:
const RULES = require('./capacity_rules.json')
const PARTITION_WRU = RULES.partition_units
const ON_DEMAND_INITIAL = RULES.new_on_demand_units
const ACCOUNT_TABLE_QUOTA = RULES.max_units
const BURST_SECONDS = RULES.burst_seconds
const HISTORY_SECONDS = 600
const LOG_SECONDS = 3600
const MAX_TABLES = 256
const MODES = ['off', 'on-demand', 'provisioned']

function validCapacity (raw) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('capacity must be a JSON object like {"mode": "provisioned", "wcu": 1000}')
  const out = { mode: 'off' }
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'mode') {
      if (!MODES.includes(value)) throw new Error('capacity mode must be one of ' + MODES.join(', ') + ', got ' + JSON.stringify(value))
    } else if (['wcu', 'warm', 'max'].includes(key)) {
      if (!Number.isInteger(value) || value < 1 || value > ACCOUNT_TABLE_QUOTA) {
        throw new Error('capacity ' + key + ' must be a whole number from 1 to ' + ACCOUNT_TABLE_QUOTA + ', got ' + JSON.stringify(value))
      }
    } else {
      throw new Error('unknown capacity setting ' + JSON.stringify(key) + ': use mode, wcu, warm, max')
    }
    out[key] = value
  }
  if ((out.mode === 'provisioned') !== ('wcu' in out)) throw new Error('provisioned capacity needs its wcu, and only it')
  if (out.mode !== 'on-demand' && ('warm' in out || 'max' in out)) throw new Error('warm and max apply to on-demand capacity only')
  if ('warm' in out && 'max' in out && out.warm > out.max) throw new Error('on-demand warm throughput is above its maximum')
  return out
}

// DynamoDB's item size: attribute names plus values (strings in UTF-8 bytes, numbers about one byte per two
// significant digits plus one, binary in raw bytes, lists and maps 3 bytes plus 1 per element).
function valueSize (value) {
  if (value === null || typeof value !== 'object') return 1
  const [type, inner] = Object.entries(value)[0] || ['NULL', true]
  switch (type) {
    case 'S': return Buffer.byteLength(String(inner))
    case 'N': return Math.ceil(String(inner).replace(/^[-+]?0*|[.eE].*$/g, '').length / 2) + 1
    case 'B': return Math.floor(String(inner).length * 3 / 4)
    case 'SS': return Array.isArray(inner) ? inner.reduce(function (n, s) { return n + Buffer.byteLength(String(s)) }, 0) : 1
    case 'NS': return Array.isArray(inner) ? inner.reduce(function (n, s) { return n + valueSize({ N: s }) }, 0) : 1
    case 'BS': return Array.isArray(inner) ? inner.reduce(function (n, s) { return n + valueSize({ B: s }) }, 0) : 1
    case 'L': return Array.isArray(inner) ? inner.reduce(function (n, v) { return n + 1 + valueSize(v) }, 3) : 3
    case 'M': return inner && typeof inner === 'object' ? itemSize(inner) + 3 + Object.keys(inner).length : 3
    default: return 1
  }
}

function itemSize (item) {
  let size = 0
  for (const [name, value] of Object.entries(item || {})) size += Buffer.byteLength(name) + valueSize(value)
  return size
}

function writeUnits (item) {
  return Math.max(1, Math.ceil(itemSize(item) / 1024))
}

function fnv1a (text) {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

// The partition of a key among `count`: as DynamoDB, each partition owns one contiguous range of the hashed key
// space. FNV-1a's low bits are weak (its lowest is the XOR of the bytes' lowest bits: every ISBN-13 of the lab's
// books has the same, so `% 2` put them all on one partition), so the hash is mixed (MurmurHash3's finaliser)
// and its range, not its remainder, picks the partition.
function partitionOf (key, count) {
  let h = fnv1a(key)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return Math.floor((h >>> 0) / 4294967296 * count)
}

function bucket (rate, size, now, full) {
  return { rate, size, tokens: full ? size : 0, at: now }
}

function refill (b, now) {
  if (now > b.at) b.tokens = Math.min(b.size, b.tokens + (now - b.at) * b.rate)
  b.at = Math.max(b.at, now)
}

function createCapacity (raw, clock) {
  const config = validCapacity(raw)
  clock = clock || function () { return Date.now() / 1000 }
  const tables = new Map()
  const throttles = {}
  const history = new Map() // whole second -> WRU consumed (every table)
  let consumedTotal = 0

  function table (name) {
    let t = tables.get(name)
    if (!t) {
      const now = clock()
      t = { name, peak: 0, second: Math.floor(now), secondWru: 0, partitions: [], tableBucket: null }
      t.log = [] // one record per second that saw a write (see record())
      t.trimmed = null // the latest second dropped from the log
      if (config.mode === 'provisioned') t.tableBucket = bucket(config.wcu, config.wcu * BURST_SECONDS, now, true)
      tables.set(name, t)
      if (tables.size > MAX_TABLES) tables.delete(tables.keys().next().value) // the oldest table seen
      resize(t, now)
    }
    return t
  }

  // On-demand: what the table takes now, and which limit binds it.
  function allowance (t) {
    const grown = Math.max(config.warm || ON_DEMAND_INITIAL, 2 * t.peak)
    const caps = [[grown, null], [ACCOUNT_TABLE_QUOTA, 'TableWriteAccountLimitExceeded']]
    if (config.max) caps.push([config.max, 'TableWriteMaxOnDemandThroughputExceeded'])
    return caps.reduce(function (a, b) { return b[0] <= a[0] ? b : a }) // at a cap, the cap binds
  }

  function resize (t, now) {
    let units = config.wcu
    if (config.mode === 'on-demand') {
      const [limit] = allowance(t)
      units = Math.max(config.warm || ON_DEMAND_INITIAL, 2 * t.peak)
      if (!t.tableBucket || t.tableBucket.rate !== limit) {
        t.tableBucket = bucket(limit, limit, now, true)
      }
    }
    const count = Math.max(1, Math.ceil(units / PARTITION_WRU))
    if (t.partitions.length !== count) {
      t.partitions = Array.from({ length: count }, function () { return bucket(PARTITION_WRU, PARTITION_WRU, now, true) })
    }
  }

  // Roll the table's one-second window: the previous peak is the most WRU it took in one second.
  function tick (t, now) {
    const second = Math.floor(now)
    if (second !== t.second) {
      t.peak = Math.max(t.peak, t.secondWru)
      t.second = second
      t.secondWru = 0
      if (config.mode === 'on-demand') resize(t, now)
    }
  }

  function tableReason (t) {
    if (config.mode === 'provisioned') return 'TableWriteProvisionedThroughputExceeded'
    return allowance(t)[1] || 'TableWriteKeyRangeThroughputExceeded'
  }

  // items: [{ key: string, wru: number }] -> { accepted: [index], refused: [{ index, reason }] }
  function admit (name, items) {
    const accepted = [], refused = []
    if (config.mode === 'off') return { accepted: items.map(function (_, i) { return i }), refused }
    const now = clock()
    const t = table(name)
    tick(t, now)
    refill(t.tableBucket, now)
    const second = record(t, now)
    second.requests++
    items.forEach(function (item, index) {
      const partition = t.partitions[partitionOf(item.key, t.partitions.length)]
      refill(partition, now)
      let reason = null
      if (t.tableBucket.tokens < item.wru) reason = tableReason(t)
      else if (partition.tokens < item.wru) reason = 'TableWriteKeyRangeThroughputExceeded'
      if (reason) {
        refused.push({ index, reason })
        throttles[reason] = (throttles[reason] || 0) + 1
        second.throttles[reason] = (second.throttles[reason] || 0) + 1
        return
      }
      t.tableBucket.tokens -= item.wru
      partition.tokens -= item.wru
      t.secondWru += item.wru
      second.wru += item.wru
      consumedTotal += item.wru
      history.set(second.s, (history.get(second.s) || 0) + item.wru)
      accepted.push(index)
    })
    if (refused.length && !accepted.length) second.refused++
    else if (refused.length) second.partial++
    for (const second of history.keys()) {
      if (second < Math.floor(now) - HISTORY_SECONDS) history.delete(second)
      else break
    }
    return { accepted, refused }
  }

  // The table's record of the current second (a new one when the second turns): what the report reads.
  function record (t, now) {
    const s = Math.floor(now)
    let last = t.log[t.log.length - 1]
    if (!last || last.s !== s) {
      last = { s, wru: 0, requests: 0, refused: 0, partial: 0, throttles: {}, capacity: capacityLine(t),
        partitions: t.partitions.length, burst: Math.floor(t.tableBucket.tokens) }
      t.log.push(last)
      if (t.log.length > LOG_SECONDS) t.trimmed = t.log.shift().s
    }
    return last
  }

  function capacityLine (t) {
    return config.mode === 'provisioned' ? config.wcu : t.tableBucket.rate
  }

  // One table's figures over the seconds from `since` (every second kept when it is undefined).
  function window (t, since) {
    const from = since === undefined ? -Infinity : Math.floor(since)
    const log = t.log.filter(function (r) { return r.s >= from })
    const out = { consumed_wru: 0, requests: 0, refused_requests: 0, partial_requests: 0, throttles: {},
      consumed_wru_per_second: [], seconds: [],
      complete: t.trimmed === null || t.trimmed < from } // no second of the window was dropped
    for (const r of log) {
      out.consumed_wru += r.wru
      out.requests += r.requests
      out.refused_requests += r.refused
      out.partial_requests += r.partial
      for (const [reason, n] of Object.entries(r.throttles)) out.throttles[reason] = (out.throttles[reason] || 0) + n
      out.consumed_wru_per_second.push([r.s, r.wru])
      out.seconds.push([r.s, r.capacity, r.partitions, r.burst])
    }
    return out
  }

  function forget (name) {
    tables.delete(name)
  }

  // Server-wide figures (consumed_wru, consumed_wru_per_second over the last HISTORY_SECONDS, throttles) and per
  // table its current partitions, peak, capacity and burst with its window from `since` (see window()).
  function stats (since) {
    const out = { config, consumed_wru: consumedTotal, throttles: Object.assign({}, throttles), tables: {} }
    out.consumed_wru_per_second = Array.from(history.entries())
    for (const t of tables.values()) {
      out.tables[t.name] = Object.assign({
        partitions: t.partitions.length,
        peak_wru_per_second: Math.max(t.peak, t.secondWru),
        capacity_wru_per_second: capacityLine(t),
      }, window(t, since))
      if (config.mode === 'provisioned') out.tables[t.name].burst_wru = Math.floor(t.tableBucket.tokens)
    }
    return out
  }

  return { config, admit, forget, stats }
}

module.exports = { createCapacity, validCapacity, writeUnits, itemSize, fnv1a, partitionOf, PARTITION_WRU, ON_DEMAND_INITIAL, ACCOUNT_TABLE_QUOTA, BURST_SECONDS, LOG_SECONDS, MAX_TABLES }
