// Unit tests of the proxy's entry (core/servers/emulator/server.js): its command line and secrets line, and the
// process protocol the Python lifecycle (core/servers/emulator/__init__.py) reads: one JSON line on stdout, exit 2
// on bad settings, exit when stdin closes.
'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawn } = require('node:child_process')
const SERVER_JS = path.join(__dirname, '..', '..', 'core', 'servers', 'emulator', 'server.js')
const { commandLine, parseSecrets } = require(SERVER_JS)

// Run server.js with `args`, write `stdin` (then keep it open unless `close`), read its first stdout line.
function run (args, stdin, close) {
  return new Promise(function (resolve) {
    const child = spawn(process.execPath, [SERVER_JS].concat(args), { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', function (c) { out += c })
    child.stderr.on('data', function (c) { err += c })
    if (stdin !== undefined) child.stdin.write(stdin)
    if (close) child.stdin.end()
    child.on('exit', function (code) { resolve({ code, out, err, child }) })
    child.stdout.once('data', function () { if (!close) resolve({ code: null, out, err, child }) })
  })
}

test('loading the entry as a module starts nothing', function () {
  const servers = process.getActiveResourcesInfo().filter(function (r) { return r === 'TCPServerWrap' })
  assert.deepEqual(servers, [])
})

test('the command line: defaults, and each option', function () {
  assert.deepEqual(commandLine([]), { host: '127.0.0.1', port: 0, readSecrets: false, config: { conditions: {}, capacity: {}, upstream: '', tls: null } })
  const given = commandLine(['--host', '::1', '--port', '8000', '--conditions', '{"error": 0.5}', '--capacity', '{"mode": "on-demand"}',
    '--upstream', 'http://127.0.0.1:9', '--secrets', 'stdin'])
  assert.deepEqual(given, { host: '::1', port: 8000, readSecrets: true, config: { conditions: { error: 0.5 }, capacity: { mode: 'on-demand' }, upstream: 'http://127.0.0.1:9', tls: null } })
})

for (const [argv, message] of [
  [['--colour', 'red'], /^Unknown option '--colour': use --host, --port/],
  [['--port'], /^Option '--port <value>' argument missing: use/],
  [['stray'], /^Unexpected argument 'stray': use/],
  [['--port', '65536'], /^--port must be 0 to 65535, got "65536"$/],
  [['--port', '1e3'], /^--port must be 0 to 65535/],
  [['--conditions', '{nope'], /^--conditions must be JSON: /],
  [['--capacity', ''], /^--capacity must be JSON: /],
  [['--secrets', 'argv'], /^--secrets takes only "stdin"$/],
  [['--tls-cert', 'cert.pem'], /^--tls-cert and --tls-key go together$/],
  [['--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'], /ENOENT/],
]) {
  test('the command line refused: ' + argv.join(' '), function () {
    assert.throws(function () { commandLine(argv) }, function (err) { return message.test(err.message) && !err.message.includes('\n') })
  })
}

test('the secrets line', function () {
  assert.deepEqual(parseSecrets('{"token": "t", "credentials": {"AKID": "S"}}'), { token: 't', credentials: { AKID: 'S' } })
  assert.deepEqual(parseSecrets('{}'), { token: '', credentials: null })
  assert.throws(function () { parseSecrets('{"token": 5}') }, /must be a JSON object like/)
  assert.throws(function () { parseSecrets('null') }, /must be a JSON object like/)
  assert.throws(function () { parseSecrets('') }, SyntaxError)
})

test('bad settings: one JSON line on stdout naming the problem, exit 2', async function () {
  for (const args of [['--port', 'x'], ['--conditions', '{"throttle": 3}'], ['--upstream', 'http://10.0.0.1:8000']]) {
    const result = await run(args, undefined, true)
    assert.equal(result.code, 2, args.join(' '))
    const lines = result.out.split('\n').filter(Boolean)
    assert.equal(lines.length, 1)
    assert.equal(JSON.parse(lines[0]).error, 'BAD_ARGUMENTS')
    assert.equal(result.err, '')
  }
})

test('a secrets line that is not JSON is refused without echoing it', async function () {
  const result = await run(['--secrets', 'stdin'], 'token=hunter2\n', true)
  assert.equal(result.code, 2)
  assert.deepEqual(JSON.parse(result.out), { error: 'BAD_ARGUMENTS', message: 'the secrets line on stdin must be JSON' })
})

test('started: the port announcement, then exit 0 when stdin closes', async function () {
  const started = await run(['--port', '0', '--secrets', 'stdin'], '{"token": "t", "credentials": {"AKID": "S"}}\n', false)
  const announced = JSON.parse(started.out)
  assert.deepEqual(Object.keys(announced), ['port', 'pid', 'backend', 'tls', 'auth'])
  assert.ok(announced.port > 0)
  assert.equal(announced.pid, started.child.pid)
  assert.deepEqual([announced.backend, announced.tls, announced.auth], ['dynalite', false, true])
  const code = await new Promise(function (resolve) {
    started.child.on('exit', resolve)
    started.child.stdin.end()
  })
  assert.equal(code, 0)
})

test('a port in use: its error code announced, exit 2', async function () {
  const first = await run(['--port', '0'], undefined, false)
  const port = JSON.parse(first.out).port
  const second = await run(['--port', String(port)], undefined, false) // stdin open: only the failure ends it
  const code = second.code !== null ? second.code : await new Promise(function (resolve) { second.child.on('exit', resolve) })
  first.child.stdin.end()
  assert.equal(code, 2)
  assert.equal(JSON.parse(second.out).error, 'EADDRINUSE')
})
