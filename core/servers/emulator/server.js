// The lab's conditions proxy and embedded DynamoDB, as a process: a loopback DynamoDB endpoint that injects
// network conditions (faults.js), a capacity model (admission.js) and bulk put (bulkput.js) in front of an engine
// (engines.js: dynalite in this process by default, or a DynamoDB endpoint on this machine with --upstream).
//
// Usage: node server.js [--host 127.0.0.1] [--port 0] [--conditions JSON] [--capacity JSON]
//                       [--upstream http://127.0.0.1:PORT] [--tls-cert PEM_FILE --tls-key PEM_FILE] [--secrets stdin]
// Prints one JSON line on stdout once listening ({"port": N, "pid": P, "backend": ..., "tls": ..., "auth": ...}) or
// on failure ({"error": CODE, "message": ...}, then exit 2; exit 3 when dynalite cannot be loaded). Exits when its
// standard input closes, so it never outlives the Python process that started it (core/servers/emulator/__init__.py).
// Secrets come with --secrets stdin as the first line on stdin (never argv or the environment, which the user's
// other processes can read in /proc): {"token": "...", "credentials": {"AKID": "SECRET", ...}}. Anything the proxy
// survives is one line on stderr. What the proxy does with a request: proxy.js and pipeline.js; its control
// endpoints: control.js. Loading this file as a module starts nothing (the unit tests read its parsers).
'use strict'

const fs = require('fs')
const util = require('util')
const { createProxy } = require('./proxy.js')

const MAX_SECRETS_BYTES = 64 * 1024
const OPTIONS = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '0' },
  conditions: { type: 'string', default: '{}' },
  capacity: { type: 'string', default: '{}' },
  upstream: { type: 'string', default: '' },
  'tls-cert': { type: 'string', default: '' },
  'tls-key': { type: 'string', default: '' },
  secrets: { type: 'string', default: '' },
}

// The command line as { host, port, readSecrets, config } (config for createProxy, without the secrets), or an
// Error in one line. Reads the TLS files it names.
function commandLine (argv) {
  let values
  try {
    values = util.parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new Error(String(err.message).split(/\.\s/)[0] + ': use ' + Object.keys(OPTIONS).map(function (o) { return '--' + o }).join(', '))
  }
  const port = Number(values.port)
  if (!/^[0-9]+$/.test(values.port) || port > 65535) throw new Error('--port must be 0 to 65535, got ' + JSON.stringify(values.port))
  if (values.secrets && values.secrets !== 'stdin') throw new Error('--secrets takes only "stdin"')
  if (!values['tls-cert'] !== !values['tls-key']) throw new Error('--tls-cert and --tls-key go together')
  const tls = values['tls-cert'] ? { cert: fs.readFileSync(values['tls-cert']), key: fs.readFileSync(values['tls-key']) } : null
  return {
    host: values.host,
    port,
    readSecrets: values.secrets === 'stdin',
    config: { conditions: json('--conditions', values.conditions), capacity: json('--capacity', values.capacity), upstream: values.upstream, tls },
  }
}

function json (option, text) {
  try { return JSON.parse(text) } catch (err) { throw new Error(option + ' must be JSON: ' + err.message) }
}

// The first line on stdin, read byte by byte so that nothing after it is consumed (the rest of stdin is the pipe
// whose end stops the server).
function readSecretsLine () {
  const line = []
  const one = Buffer.alloc(1)
  while (line.length <= MAX_SECRETS_BYTES) {
    let n
    try {
      n = fs.readSync(0, one, 0, 1, null)
    } catch (err) {
      if (err.code === 'EAGAIN') continue
      throw err
    }
    if (n === 0 || one[0] === 10) break
    line.push(one[0])
  }
  if (line.length > MAX_SECRETS_BYTES) throw new Error('the secrets line on stdin is over ' + MAX_SECRETS_BYTES + ' bytes')
  return Buffer.from(line).toString()
}

// The secrets line as { token, credentials } ('' and null when absent); a SyntaxError when it is not JSON.
function parseSecrets (text) {
  const secrets = JSON.parse(text)
  if (secrets === null || typeof secrets !== 'object' || typeof (secrets.token || '') !== 'string') {
    throw new Error('the secrets line must be a JSON object like {"token": "...", "credentials": {"AKID": "SECRET"}}')
  }
  return { token: secrets.token || '', credentials: secrets.credentials || null }
}

function announceFailure (code, message, exitCode) {
  console.log(JSON.stringify({ error: code, message }))
  process.exit(exitCode || 2)
}

function firstLine (err) {
  return String(err && err.stack ? err.stack : err).split('\n').slice(0, 2).join(' ')
}

function main () {
  let settings, secrets, proxy
  try {
    settings = commandLine(process.argv.slice(2))
  } catch (err) {
    return announceFailure('BAD_ARGUMENTS', err.message)
  }
  try {
    secrets = settings.readSecrets ? parseSecrets(readSecretsLine()) : { token: '', credentials: null }
  } catch (err) {
    return announceFailure('BAD_ARGUMENTS', err instanceof SyntaxError ? 'the secrets line on stdin must be JSON' : err.message)
  }
  try {
    proxy = createProxy(Object.assign({}, settings.config, secrets))
  } catch (err) {
    if (err.code === 'NO_DYNALITE') return announceFailure('NO_DYNALITE', err.message, 3)
    return announceFailure('BAD_ARGUMENTS', err.message)
  }
  const server = proxy.server
  server.on('error', function (err) {
    announceFailure(err.code || 'ERROR', err.message)
  })
  server.listen(settings.port, settings.host, function () {
    console.log(JSON.stringify({ port: server.address().port, pid: process.pid, backend: proxy.backend,
      tls: Boolean(settings.config.tls), auth: Boolean(proxy.state.auth) }))
  })
  // The last resort: an engine's asynchronous failure must not take the server (and every other request) down.
  process.on('uncaughtException', function (err) {
    proxy.state.stats.internal_errors++
    process.stderr.write('uncaught: ' + firstLine(err) + '\n')
  })
  process.stdin.on('end', function () { process.exit(0) })
  process.stdin.on('error', function () { process.exit(0) })
  process.stdin.resume()
  process.on('SIGTERM', function () { process.exit(0) })
  process.on('SIGINT', function () { process.exit(0) })
}

if (require.main === module) main()

module.exports = { commandLine, parseSecrets }
