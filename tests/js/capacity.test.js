// Unit tests of the capacity model (core/servers/emulator/capacity.js) with a fake clock: run with `node --test "tests/js/*.test.js"`
// (tests/integration/test_capacity.py runs them under pytest).
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { createCapacity, validCapacity, writeUnits, itemSize, partitionOf, LOG_SECONDS, MAX_TABLES } = require(path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'capacity.js'))

function fakeClock (start) {
  const clock = function () { return clock.now }
  clock.now = start || 1000
  return clock
}

// Keys that land evenly on `partitions` partitions, so that only table-level limits bind.
function evenKeys (count, partitions) {
  const byPartition = Array.from({ length: partitions }, function () { return [] })
  for (let i = 0; byPartition.some(function (keys) { return keys.length < Math.ceil(count / partitions) }); i++) {
    const key = 'k' + i
    const list = byPartition[partitionOf(key, partitions)]
    if (list.length < Math.ceil(count / partitions)) list.push(key)
  }
  const keys = []
  for (let i = 0; keys.length < count; i++) keys.push(byPartition[i % partitions][Math.floor(i / partitions)])
  return keys
}

function items (keys, wru) {
  return keys.map(function (key) { return { key, wru: wru || 1 } })
}

function reasons (verdict) {
  return new Set(verdict.refused.map(function (r) { return r.reason }))
}

test('write units: one per started KB of the item, names included', function () {
  assert.equal(writeUnits({ a: { S: 'x'.repeat(1022) } }), 1) // 1 + 1022 = 1023 bytes
  assert.equal(writeUnits({ a: { S: 'x'.repeat(1023) } }), 1) // 1024
  assert.equal(writeUnits({ a: { S: 'x'.repeat(1024) } }), 2) // 1025
  assert.equal(writeUnits({ isbn: { S: '1' } }), 1)
  assert.equal(itemSize({ n: { N: '12345' } }), 1 + 4) // 5 digits: 3 bytes + 1
  assert.equal(itemSize({ l: { L: [{ S: 'ab' }, { BOOL: true }] } }), 1 + 3 + (1 + 2) + (1 + 1))
  assert.equal(itemSize({ m: { M: { k: { S: 'v' } } } }), 1 + 3 + 1 + 2)
  assert.equal(writeUnits({ s: { S: 'é'.repeat(600) } }), 2) // 1,201 bytes in UTF-8
})

test('off admits everything', function () {
  const model = createCapacity({ mode: 'off' }, fakeClock())
  assert.deepEqual(model.admit('T', items(Array(50000).fill('same'))).refused, [])
})

test('provisioned: 300 s of burst, then WCU per second; the partition caps the burst at 1,000 WRU/s', function () {
  const clock = fakeClock()
  const model = createCapacity({ mode: 'provisioned', wcu: 100 }, clock)
  let verdict = model.admit('T', items(evenKeys(1500, 1)))
  assert.equal(verdict.accepted.length, 1000) // one partition (ceil(100 / 1000)) with one second of burst
  assert.deepEqual(reasons(verdict), new Set(['TableWriteKeyRangeThroughputExceeded']))
  let accepted = 1000
  for (let second = 1; second <= 40; second++) { // the table's 30,000 WRU of burst (+100/s) run out after ~33 s
    clock.now += 1
    verdict = model.admit('T', items(evenKeys(1000, 1)))
    accepted += verdict.accepted.length
  }
  assert.equal(accepted, 30000 + 40 * 100)
  clock.now += 1
  verdict = model.admit('T', items(evenKeys(300, 1)))
  assert.equal(verdict.accepted.length, 100)
  assert.deepEqual(reasons(verdict), new Set(['TableWriteProvisionedThroughputExceeded']))
  clock.now += 0.5
  assert.equal(model.admit('T', items(evenKeys(300, 1))).accepted.length, 50)
  assert.equal(model.stats().tables.T.capacity_wru_per_second, 100)
})

test('provisioned batch: the items that fit are taken in order, the rest refused', function () {
  const model = createCapacity({ mode: 'provisioned', wcu: 1 }, fakeClock())
  const verdict = model.admit('T', items(evenKeys(25, 1), 50)) // 50 WRU each: 300 WRU burst, 1000 partition
  assert.deepEqual(verdict.accepted, [0, 1, 2, 3, 4, 5])
  assert.equal(verdict.refused.length, 19)
})

test('on-demand: a new table takes 4,000 WRU/s at once, then double its previous peak', function () {
  const clock = fakeClock()
  const model = createCapacity({ mode: 'on-demand' }, clock)
  let verdict = model.admit('T', items(evenKeys(5000, 4)))
  assert.equal(verdict.accepted.length, 4000)
  assert.equal(model.stats().tables.T.partitions, 4)
  clock.now += 1
  verdict = model.admit('T', items(evenKeys(9000, 8)))
  assert.equal(verdict.accepted.length, 8000) // the peak was 4,000: 8,000 WRU/s on 8 partitions
  assert.equal(model.stats().tables.T.partitions, 8)
  assert.deepEqual(reasons(verdict), new Set(['TableWriteKeyRangeThroughputExceeded']))
  model.forget('T') // a new table starts again from 4,000
  assert.equal(model.admit('T', items(evenKeys(5000, 4))).accepted.length, 4000)
})

test('on-demand: one hot key is throttled at its partition, 1,000 WRU/s', function () {
  const clock = fakeClock()
  const model = createCapacity({ mode: 'on-demand' }, clock)
  const verdict = model.admit('T', items(Array(1500).fill('hot')))
  assert.equal(verdict.accepted.length, 1000)
  assert.deepEqual(reasons(verdict), new Set(['TableWriteKeyRangeThroughputExceeded']))
  clock.now += 0.25
  assert.equal(model.admit('T', items(Array(500).fill('hot'))).accepted.length, 250)
})

test('on-demand max and warm: MaxOnDemandThroughputExceeded at the maximum', function () {
  const clock = fakeClock()
  const model = createCapacity({ mode: 'on-demand', warm: 2000, max: 3000 }, clock)
  let verdict = model.admit('T', items(evenKeys(2500, 2)))
  assert.equal(verdict.accepted.length, 2000) // warm: 2,000 at once
  for (let i = 0; i < 3; i++) {
    clock.now += 1
    verdict = model.admit('T', items(evenKeys(5000, 3)))
  }
  assert.equal(verdict.accepted.length, 3000) // doubled past 3,000: capped by max
  assert.deepEqual(reasons(verdict), new Set(['TableWriteMaxOnDemandThroughputExceeded']))
})

test("on-demand: the account's 40,000 WRU/s per-table quota", function () {
  const clock = fakeClock()
  const model = createCapacity({ mode: 'on-demand', warm: 40000 }, clock)
  const verdict = model.admit('T', items(evenKeys(40100, 40)))
  assert.equal(verdict.accepted.length, 40000)
  assert.deepEqual(reasons(verdict), new Set(['TableWriteAccountLimitExceeded']))
})

test('stats: consumed WRU per second and throttles by reason', function () {
  const clock = fakeClock(5000)
  const model = createCapacity({ mode: 'provisioned', wcu: 10 }, clock)
  model.admit('T', items(evenKeys(1200, 1)))
  clock.now += 1
  model.admit('T', items(evenKeys(10, 1), 2))
  const stats = model.stats()
  assert.deepEqual(stats.consumed_wru_per_second, [[5000, 1000], [5001, 20]])
  assert.equal(stats.consumed_wru, 1020)
  assert.equal(stats.throttles.TableWriteKeyRangeThroughputExceeded, 200)
  assert.equal(stats.tables.T.burst_wru, 3000 - 1020 + 10)
})

test('configs are validated like the Python Capacity', function () {
  for (const [bad, message] of [
    [null, /JSON object/], [{ mode: 'fast' }, /mode must be one of/], [{ mode: 'provisioned' }, /needs its wcu/],
    [{ mode: 'provisioned', wcu: 0 }, /from 1 to 40000/], [{ mode: 'provisioned', wcu: 1.5 }, /whole number/],
    [{ mode: 'on-demand', wcu: 5 }, /needs its wcu, and only it/], [{ mode: 'off', max: 5 }, /on-demand capacity only/],
    [{ mode: 'on-demand', warm: 10, max: 5 }, /above its maximum/], [{ mode: 'on-demand', burst: 1 }, /unknown capacity setting/],
  ]) {
    assert.throws(function () { validCapacity(bad) }, message)
  }
  assert.deepEqual(validCapacity({ mode: 'on-demand', warm: 5, max: 10 }), { mode: 'on-demand', warm: 5, max: 10 })
})

test('per table: WRU per second, requests refused or partly refused, throttles by reason, cut from a time', function () {
  const clock = fakeClock(7000)
  const model = createCapacity({ mode: 'provisioned', wcu: 10 }, clock)
  model.admit('A', items(evenKeys(1200, 1))) // 1,000 taken (the partition's second), 200 refused: partial
  model.admit('B', items(evenKeys(5, 1)))
  clock.now += 0.5
  model.admit('A', items(evenKeys(10, 1))) // the partition has 500 again
  clock.now += 1
  model.admit('A', items(Array(1200).fill('hot'))) // the partition is full again: 1,000 taken
  model.admit('A', items(['hot'])) // refused whole
  let a = model.stats().tables.A
  assert.deepEqual(a.consumed_wru_per_second, [[7000, 1010], [7001, 1000]])
  assert.equal(a.consumed_wru, 2010)
  assert.deepEqual([a.requests, a.refused_requests, a.partial_requests], [4, 1, 2])
  assert.deepEqual(a.throttles, { TableWriteKeyRangeThroughputExceeded: 401 })
  assert.deepEqual(a.seconds, [[7000, 10, 1, 3000], [7001, 10, 1, 3000 - 1010 + 15]])
  assert.equal(a.complete, true)
  assert.equal(model.stats().tables.B.consumed_wru, 5) // a table's figures are its own
  a = model.stats(7001.2).tables.A // the window from a second on
  assert.deepEqual(a.consumed_wru_per_second, [[7001, 1000]])
  assert.deepEqual([a.consumed_wru, a.requests, a.refused_requests, a.partial_requests], [1000, 2, 1, 1])
  assert.deepEqual(a.throttles, { TableWriteKeyRangeThroughputExceeded: 201 })
  assert.equal(model.stats(8000).tables.A.consumed_wru, 0)
  assert.equal(model.stats().consumed_wru, 2015) // the server-wide figures stay whole
})

test('per table: the on-demand capacity line follows the allowance as it doubles', function () {
  const clock = fakeClock(100)
  const model = createCapacity({ mode: 'on-demand' }, clock)
  for (let i = 0; i < 3; i++) {
    model.admit('T', items(evenKeys(20000, 20)))
    clock.now += 1
  }
  const seconds = model.stats().tables.T.seconds
  assert.deepEqual(seconds.map(function (s) { return s[1] }), [4000, 8000, 16000])
  assert.deepEqual(seconds.map(function (s) { return s[2] }), [4, 8, 16])
  model.forget('T') // a new table: its record starts again
  assert.equal(model.stats().tables.T, undefined)
})

test('memory stays bounded: the last LOG_SECONDS seconds per table, at most MAX_TABLES tables', function () {
  const clock = fakeClock(1)
  const model = createCapacity({ mode: 'provisioned', wcu: 40000 }, clock)
  for (let i = 0; i < LOG_SECONDS + 5; i++) {
    model.admit('T', items(['k']))
    clock.now += 1
  }
  const t = model.stats().tables.T
  assert.equal(t.consumed_wru_per_second.length, LOG_SECONDS)
  assert.equal(t.consumed_wru_per_second[0][0], 6)
  assert.equal(t.complete, false) // the window reaches back past what is kept, and says so
  assert.equal(model.stats(5).tables.T.complete, false) // second 5 was dropped
  assert.equal(model.stats(6).tables.T.complete, true)
  for (let i = 0; i < MAX_TABLES + 3; i++) model.admit('table' + i, items(['k']))
  const names = Object.keys(model.stats().tables)
  assert.equal(names.length, MAX_TABLES)
  assert.ok(!names.includes('T') && names.includes('table' + (MAX_TABLES + 2)))
})

test('keys spread evenly over partitions: ISBN-13s (one check digit, so one parity) included', function () {
  // Every valid ISBN-13 gives FNV-1a the same lowest bit: a remainder by an even count put them all on one
  // partition. The lab's keys reach the model as the JSON of their attribute value, e.g. {"S":"9781234567897"}.
  const keys = []
  let seed = 7
  for (let i = 0; i < 20000; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    const body = '978' + String(seed % 1000000000).padStart(9, '0')
    const sum = body.split('').reduce(function (s, d, j) { return s + Number(d) * (j % 2 ? 3 : 1) }, 0)
    keys.push(JSON.stringify({ S: body + String((10 - sum % 10) % 10) }))
  }
  for (const count of [2, 3, 4, 8, 40]) {
    const per = Array(count).fill(0)
    for (const key of keys) per[partitionOf(key, count)]++
    const even = keys.length / count
    const spread = 5 * Math.sqrt(even) // five standard deviations of a fair split
    for (const n of per) assert.ok(Math.abs(n - even) < spread, count + ' partitions: ' + per.join(', '))
  }
})
