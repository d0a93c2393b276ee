// Drives berthd with a third-party gRPC client that knows nothing about Berth: the
// services are listed and described through server reflection (grpc.reflection.v1alpha,
// via the npm package grpc-reflection-js), the berth.v1 client is built at run time from
// the descriptors the server sent, and every method is called (berth.v1.Containers,
// berth.v1.System, berth.v1.Networks, berth.v1.Images, grpc.health.v1.Health;
// ServerReflectionInfo by the reflection client itself). No .proto file is read.
//
// berthd runs in a network namespace of its own (`unshare --net`, util-linux), so the bridge,
// veths and nftables rules its containers get never touch the machine's network; they go with
// the namespace when berthd and its shims are gone.
//
// With BERTH_REFL_TLS=1 every call goes over TCP with mutual TLS instead: berthd listens on
// 127.0.0.1:7443 with certificates from deploy/berth-tls, and the client presents one whose
// identity the agent's [authz] table makes admin. Then the caller runs the whole script in a
// fresh network namespace (CTest: `unshare --net`), berthd shares it, and the script also
// checks the handshake refusals and an unknown identity.
//
// Needs root (cgroups, namespaces). Environment:
//   BERTHD_PATH      berthd binary (required); berth-shim is found next to it
//   BERTH_SHIM_PATH  optional: passed as --shim
//   BERTH_REFL_TLS   optional: 1 for TCP + mutual TLS (run inside a network namespace of its own)
//   BERTH_TLS_TOOL   with BERTH_REFL_TLS: deploy/berth-tls (default: ./deploy/berth-tls)
//   BERTH_REFL_KEEP  optional: keep the temp dir (for debugging)
// Exit status 0 only when every check passed; the last line says PASS or FAIL.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let grpc, protoLoader, ReflectionClient, reflectionPb, protobuf, descriptorExt;
try {
  grpc = require('@grpc/grpc-js');
  protoLoader = require('@grpc/proto-loader');
  ({ Client: ReflectionClient } = require('grpc-reflection-js'));
  // grpc-reflection-js's own reflection messages, for raw descriptor requests on its stub.
  reflectionPb = require('grpc-reflection-js/build/src/reflection_pb');
  // The protobufjs copy grpc-reflection-js itself uses, with its descriptor extension.
  const from = { paths: [path.dirname(require.resolve('grpc-reflection-js'))] };
  protobuf = require(require.resolve('protobufjs', from));
  descriptorExt = require(require.resolve('protobufjs/ext/descriptor', from));
} catch (e) {
  process.stdout.write(`# ${e.message.split('\n')[0]}\n# the npm packages are missing: run deploy/install-deps.sh ` +
    `(it runs npm ci in tests/reflection)\nreflection test: FAIL (0 checks passed)\n`);
  process.exit(1);
}

const CALL_TIMEOUT_MS = 30_000;
const OVERALL_TIMEOUT_MS = Number(process.env.BERTH_REFL_TIMEOUT_MS || 240_000);

const berthdPath = process.env.BERTHD_PATH;
const shimPath = process.env.BERTH_SHIM_PATH || '';
const cgroupParent = `berth-refl-${process.pid}`;
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-refl-'));
const rootDir = path.join(tmpDir, 'root');
const socketPath = path.join(tmpDir, 'berth.sock');
const agentLog = path.join(tmpDir, 'berthd.log');
const useTls = process.env.BERTH_REFL_TLS === '1';
const tlsTool = process.env.BERTH_TLS_TOOL || path.resolve('deploy/berth-tls');
const tlsDir = path.join(tmpDir, 'tls');
const TLS_PORT = 7443;
const CLIENT_IDENTITY = 'spiffe://berth/reflection-client';

let agent = null;         // ChildProcess of berthd
let agentExited = null;   // Promise resolved with the exit code
const agentCgroupPaths = new Set();
let containers = null;    // dynamic berth.v1.Containers client
const clients = [];
let passed = 0;
let agentLogTail = '';

function log(msg) {
  process.stdout.write(`${msg}\n`);
}

async function check(name, fn) {
  try {
    const r = await fn();
    passed++;
    log(`ok ${passed} - ${name}`);
    return r;
  } catch (e) {
    log(`not ok - ${name}`);
    throw e;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

let toMapField = (obj) => obj;
const fromMapField = (v) => (Array.isArray(v) ? Object.fromEntries(v.map((e) => [e.key, e.value])) : v);

const deadline = () => new Date(Date.now() + CALL_TIMEOUT_MS);

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: deadline() }, (err, resp) => (err ? reject(err) : resolve(resp)));
  });
}

async function expectGrpcError(promise, code) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.code, code, `expected gRPC status ${code}, got ${e.code}: ${e.details}`);
    return e;
  }
  assert.fail(`expected gRPC status ${code}, the call succeeded`);
}

// Collects a server stream (or the response side of a bidi stream) until it ends.
function collect(call) {
  return new Promise((resolve, reject) => {
    const out = [];
    call.on('data', (m) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

// ---------------------------------------------------------------------------------------
// Agent lifecycle and cleanup

async function startAgent() {
  assert.ok(berthdPath, 'BERTHD_PATH must name the berthd binary');
  assert.ok(fs.existsSync(berthdPath), `no berthd at ${berthdPath}`);
  const args = ['--root', rootDir, '--socket', socketPath, '--cgroup-parent', cgroupParent, '--log-level', 'debug'];
  if (shimPath) args.push('--shim', shimPath);
  if (useTls) args.push(...makeTls());
  const out = fs.openSync(agentLog, 'a');
  // unshare execs berthd in place: agent.pid is berthd's pid. With TLS the whole script
  // already runs in a namespace of its own, which berthd shares so 127.0.0.1 reaches it.
  agent = useTls
    ? spawn(berthdPath, args, { stdio: ['ignore', out, out] })
    : spawn('unshare', ['--net', '--', berthdPath, ...args], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  agentExited = new Promise((resolve) => agent.on('exit', (code, signal) => resolve(code ?? signal)));
  let exited = false;
  agentExited.then(() => { exited = true; });
  try {
    for (const line of fs.readFileSync(`/proc/${agent.pid}/cgroup`, 'utf8').trim().split('\n')) {
      agentCgroupPaths.add(line.split(':').slice(2).join(':'));
    }
  } catch { /* it may already be gone; /proc/self/cgroup is used too */ }
  for (let i = 0; i < 300 && !fs.existsSync(socketPath); i++) {
    if (exited) break;
    await sleep(50);
  }
  assert.ok(!exited, `berthd exited early (status ${agent.exitCode ?? agent.signalCode}); its log:\n${readLog()}`);
  assert.ok(fs.existsSync(socketPath), `berthd made no socket at ${socketPath} within 15 s`);
  const agentNetns = fs.readlinkSync(`/proc/${agent.pid}/ns/net`);
  // With TLS this script's parent (CTest) is in the machine's namespace, and berthd shares ours.
  const machineNetns = fs.readlinkSync(useTls ? `/proc/${process.ppid}/ns/net` : '/proc/self/ns/net');
  assert.notEqual(agentNetns, machineNetns, 'berthd runs in the machine\'s own netns');
}

function berthTls(...args) {
  const r = spawnSync(tlsTool, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${tlsTool} ${args.join(' ')}: ${r.stderr || r.error}`);
}

// A CA, the agent's server certificate, an admin client (named in [authz]) and a stranger
// (not named); another CA's client. Returns berthd's TLS flags.
function makeTls() {
  berthTls('init', tlsDir);
  berthTls('server', tlsDir, 'agent', '--ip', '127.0.0.1');
  berthTls('client', tlsDir, 'reflection-client');
  berthTls('client', tlsDir, 'stranger');
  berthTls('init', path.join(tmpDir, 'other-ca'));
  berthTls('client', path.join(tmpDir, 'other-ca'), 'reflection-client');
  const config = path.join(tmpDir, 'berthd.toml');
  fs.writeFileSync(config, `[authz]\nadmin = ["${CLIENT_IDENTITY}"]\n`);
  return ['--config', config, '--listen', `tcp://127.0.0.1:${TLS_PORT}`, '--tls-cert', path.join(tlsDir, 'agent.pem'),
    '--tls-key', path.join(tlsDir, 'agent-key.pem'), '--tls-client-ca', path.join(tlsDir, 'ca.pem')];
}

function readLog() {
  try {
    return fs.readFileSync(agentLog, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '(no log)';
  }
}

async function stopAgent() {
  if (!agent || agent.exitCode !== null || agent.signalCode !== null) return;
  process.kill(agent.pid, 'SIGTERM');
  const code = await Promise.race([agentExited, sleep(10_000).then(() => 'timeout')]);
  if (code === 'timeout') {
    log(`# berthd (pid ${agent.pid}) ignored SIGTERM for 10 s: SIGKILL`);
    process.kill(agent.pid, 'SIGKILL');
    await agentExited;
  } else if (code !== 0) {
    log(`# berthd exited with ${code} after SIGTERM`);
  }
}

// Shims outlive berthd by design; after a failed run one of ours may be left. They are
// recognised by our own temp root in their command line and ended by PID.
function killLeftoverShims() {
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (path.basename(cmdline[0] || '') !== 'berth-shim') continue;
    if (!cmdline.some((a) => a.startsWith(rootDir))) continue;
    log(`# killing leftover berth-shim pid ${pid}`);
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
}

// Every cgroup dir named after our parent: directly under each hierarchy, and below the
// cgroup the agent (and this process) runs in, per hierarchy (e.g. a nested memory path).
function cgroupParentDirs() {
  const bases = ['/sys/fs/cgroup'];
  try {
    for (const d of fs.readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
      if (d.isDirectory()) bases.push(path.join('/sys/fs/cgroup', d.name));
    }
  } catch { return []; }
  const own = new Set(['/', ...agentCgroupPaths]);
  try {
    for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
      own.add(line.split(':').slice(2).join(':'));
    }
  } catch { /* no cgroups */ }
  const found = new Set();
  for (const b of bases) {
    for (const o of own) {
      const dir = path.join(b, o, cgroupParent);
      try {
        if (fs.statSync(dir).isDirectory()) found.add(dir);
      } catch { /* absent */ }
    }
  }
  return [...found];
}

async function removeCgroupTree(dir) {
  let children = [];
  try {
    children = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
  } catch {
    return;
  }
  for (const c of children) await removeCgroupTree(path.join(dir, c.name));
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      if (e.code === 'ENOENT') return;
      if (e.code !== 'EBUSY') throw e;
    }
    // Still populated: these processes are in a cgroup only this run created.
    try {
      for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
    } catch { /* no procs file */ }
    await sleep(100);
  }
  fs.rmdirSync(dir);
}

async function cleanup() {
  const problems = [];
  const step = async (what, fn) => {
    try {
      await fn();
    } catch (e) {
      problems.push(`${what}: ${e.message || e}`);
    }
  };
  // The test's own clients go first, so a run cut short by the watchdog makes no more
  // containers while these are removed (on a client of its own).
  for (const c of clients) c.close();
  if (containers) {
    const cleaner = new containers.constructor(target(), credentials());
    await step('remove containers', async () => {
      // A Create still in flight when the run was cut short lands a moment later: list
      // again until a list comes back empty.
      for (let round = 0; round < 5; round++) {
        const { containers: all } = await unary(cleaner, 'List', {});
        if (all.length === 0) break;
        for (const c of all) {
          await unary(cleaner, 'Remove', { id: c.id, force: true }).catch((e) => {
            if (e.code !== grpc.status.NOT_FOUND) throw e;  // removed meanwhile
          });
        }
        await sleep(200);
      }
    });
    cleaner.close();
  }
  await step('stop berthd', stopAgent);
  agentLogTail = readLog();  // the temp dir holding it goes below
  await step('kill leftover shims', async () => killLeftoverShims());
  await step('remove cgroups', async () => {
    const dirs = cgroupParentDirs();
    for (const dir of dirs) await removeCgroupTree(dir);
    log(`# removed ${dirs.length} cgroup dirs named ${cgroupParent}${dirs.length ? `: ${dirs.join(' ')}` : ''}`);
    const left = cgroupParentDirs();
    if (left.length) throw new Error(`left behind: ${left.join(' ')}`);
  });
  await step('remove temp dir', async () => {
    if (process.env.BERTH_REFL_KEEP) {
      log(`# kept ${tmpDir}`);
      return;
    }
    // Mounts a crashed container may have left below the temp dir go first (detached).
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .map((l) => l.split(' ')[4]).filter((m) => m && (m === tmpDir || m.startsWith(`${tmpDir}/`)))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    fs.rmSync(tmpDir, { recursive: true, force: true });
  });
  return problems;
}

// ---------------------------------------------------------------------------------------
// Reflection: list, describe, build clients

const target = () => (useTls ? `127.0.0.1:${TLS_PORT}` : `unix://${socketPath}`);
// The credentials of every client: mutual TLS as CLIENT_IDENTITY, or plaintext on the socket.
// `who`/`caDir` pick another client certificate (for the refusal checks); null: none at all.
function credentials(who = 'reflection-client', caDir = tlsDir) {
  if (!useTls) return grpc.credentials.createInsecure();
  const ca = fs.readFileSync(path.join(tlsDir, 'ca.pem'));
  if (who === null) return grpc.credentials.createSsl(ca);
  return grpc.credentials.createSsl(ca, fs.readFileSync(path.join(caDir, `${who}-key.pem`)),
    fs.readFileSync(path.join(caDir, `${who}.pem`)));
}

function describeService(root, fullName) {
  const svc = root.lookupService(fullName);
  svc.resolveAll();
  return svc.methodsArray.map((m) => ({
    name: m.name,
    request: m.resolvedRequestType.fullName.replace(/^\./, ''),
    response: m.resolvedResponseType.fullName.replace(/^\./, ''),
    clientStreaming: !!m.requestStream,
    serverStreaming: !!m.responseStream,
  }));
}

function signature(m) {
  const s = (stream, t) => (stream ? `stream ${t}` : t);
  return `rpc ${m.name}(${s(m.clientStreaming, m.request)}) returns (${s(m.serverStreaming, m.response)})`;
}

// One ServerReflectionInfo exchange on grpc-reflection-js's stub: the serialized
// FileDescriptorProtos the server answers with.
function reflectFiles(reflection, setRequest, what) {
  return withTimeout(new Promise((resolve, reject) => {
    const call = reflection.grpcClient.serverReflectionInfo(new grpc.Metadata(), { deadline: deadline() });
    const files = [];
    call.on('data', (resp) => {
      if (resp.hasErrorResponse()) {
        const e = resp.getErrorResponse();
        reject(new Error(`reflection ${what}: error ${e.getErrorCode()} ${e.getErrorMessage()}`));
      } else if (resp.hasFileDescriptorResponse()) {
        files.push(...resp.getFileDescriptorResponse().getFileDescriptorProtoList_asU8());
      } else {
        reject(new Error(`reflection ${what}: unexpected answer`));
      }
    });
    call.on('error', reject);
    call.on('end', () => resolve(files));
    const req = new reflectionPb.ServerReflectionRequest();
    setRequest(req);
    call.write(req);
    call.end();
  }), CALL_TIMEOUT_MS, `reflection ${what}`);
}

// The FileDescriptorSet of `symbol` exactly as the server sent it: the file defining the
// symbol plus every file it imports (asked for by name), bytes untouched.
async function descriptorSetFor(reflection, symbol) {
  const files = new Map();  // file name -> serialized FileDescriptorProto
  const add = (list) => {
    for (const bytes of list) {
      const fd = descriptorExt.FileDescriptorProto.decode(bytes);
      if (!files.has(fd.name)) files.set(fd.name, { bytes, deps: fd.dependency || [] });
    }
  };
  add(await reflectFiles(reflection, (r) => r.setFileContainingSymbol(symbol), `symbol ${symbol}`));
  for (;;) {
    const missing = [...files.values()].flatMap((f) => f.deps).filter((d) => !files.has(d));
    if (missing.length === 0) break;
    add(await reflectFiles(reflection, (r) => r.setFileByFilename(missing[0]), `file ${missing[0]}`));
    assert.ok(files.has(missing[0]), `the server did not send ${missing[0]}`);
  }
  const w = protobuf.Writer.create();
  for (const f of files.values()) w.uint32(10).bytes(f.bytes);  // FileDescriptorSet.file = 1
  return { names: [...files.keys()], bytes: Buffer.from(w.finish()) };
}

// @grpc/proto-loader builds the package definition from the serialized descriptor set.
function packageFromDescriptorSet(set) {
  return protoLoader.loadFileDescriptorSetFromBuffer(set.bytes, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}

function lookup(pkgObject, fullName) {
  const ctor = fullName.split('.').reduce((o, k) => (o ? o[k] : undefined), pkgObject);
  assert.equal(typeof ctor, 'function', `no client constructor for ${fullName} in the loaded package`);
  return ctor;
}

function makeClient(pkgObject, fullName) {
  const Ctor = lookup(pkgObject, fullName);
  const c = new Ctor(target(), credentials());
  clients.push(c);
  return c;
}

// ---------------------------------------------------------------------------------------

const EXPECTED_NETWORKS_METHODS = {
  Create: [false, false], List: [false, false], Inspect: [false, false], Remove: [false, false],
};

const EXPECTED_IMAGES_METHODS = {
  Pull: [false, true], Import: [true, false], Export: [false, true], List: [false, false],
  Inspect: [false, false], Remove: [false, false], Tag: [false, false], Prune: [false, false],
};

const EXPECTED_CONTAINERS_METHODS = {
  Create: [false, false], Start: [false, false], Stop: [false, false], Kill: [false, false],
  Remove: [false, false], Inspect: [false, false], List: [false, false], Wait: [false, false],
  Pause: [false, false], Resume: [false, false], Exec: [true, true], Attach: [true, true],
  Run: [true, true],
  Logs: [false, true], Update: [false, false], Top: [false, false], Stats: [false, false],
  StatsStream: [false, true], Rename: [false, false], CopyTo: [true, false], CopyFrom: [false, true],
};

const EXPECTED_VOLUMES_METHODS = {
  Create: [false, false], List: [false, false], Inspect: [false, false], Remove: [false, false],
  Prune: [false, false],
};

// A one-file ustar archive, written by hand: what another implementation would send CopyTo.
function oneFileTar(name, text) {
  const body = Buffer.from(text);
  const header = Buffer.alloc(512);
  const field = (off, len, value) => header.write(value, off, len, 'ascii');
  field(0, 100, name);
  field(100, 8, '0000644\0');
  field(108, 8, '0000000\0');
  field(116, 8, '0000000\0');
  field(124, 12, body.length.toString(8).padStart(11, '0') + '\0');
  field(136, 12, Math.floor(Date.now() / 1000).toString(8).padStart(11, '0') + '\0');
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

async function run() {
  await check(`berthd starts (root ${rootDir}, cgroup parent ${cgroupParent})`, startAgent);

  const reflection = new ReflectionClient(target(), credentials());
  clients.push(reflection.grpcClient);

  const services = await check('reflection lists the services', async () => {
    const list = await withTimeout(reflection.listServices(), CALL_TIMEOUT_MS, 'ListServices');
    log(`# services: ${list.join(', ')}`);
    for (const s of ['berth.v1.Containers', 'berth.v1.System', 'berth.v1.Networks', 'berth.v1.Images', 'berth.v1.Events',
      'berth.v1.Volumes',
      'grpc.health.v1.Health', 'grpc.reflection.v1alpha.ServerReflection']) {
      assert.ok(list.includes(s), `ListServices lacks ${s}: ${list.join(', ')}`);
    }
    return list;
  });

  // Describe every listed service from the descriptors the server sends for its name.
  const roots = {};
  for (const s of services) {
    roots[s] = await check(`reflection describes ${s}`, async () => {
      const root = await withTimeout(reflection.fileContainingSymbol(s), CALL_TIMEOUT_MS, `describe ${s}`);
      const methods = describeService(root, s);
      assert.ok(methods.length > 0, `${s} has no methods`);
      for (const m of methods) log(`#   ${s}: ${signature(m)}`);
      return root;
    });
  }

  await check('berth.v1.Containers descriptor has every method with its streaming shape', () => {
    const methods = describeService(roots['berth.v1.Containers'], 'berth.v1.Containers');
    const got = Object.fromEntries(methods.map((m) => [m.name, [m.clientStreaming, m.serverStreaming]]));
    assert.deepEqual(got, EXPECTED_CONTAINERS_METHODS);
    const root = roots['berth.v1.Containers'];
    // Dependencies came along: google.protobuf.Timestamp is resolvable, fields are typed.
    assert.equal(root.lookupType('berth.v1.Container').fields.created_at.resolvedType.fullName,
      '.google.protobuf.Timestamp');
    assert.ok(root.lookupType('berth.v1.StopRequest').fields.timeout_seconds, 'StopRequest.timeout_seconds');
  });

  await check('berth.v1.Networks descriptor has every method, all unary', () => {
    const methods = describeService(roots['berth.v1.Networks'], 'berth.v1.Networks');
    const got = Object.fromEntries(methods.map((m) => [m.name, [m.clientStreaming, m.serverStreaming]]));
    assert.deepEqual(got, EXPECTED_NETWORKS_METHODS);
    assert.ok(roots['berth.v1.Networks'].lookupType('berth.v1.Network').fields.subnet, 'Network.subnet');
  });

  await check('berth.v1.Images descriptor has every method with its streaming shape', () => {
    const methods = describeService(roots['berth.v1.Images'], 'berth.v1.Images');
    const got = Object.fromEntries(methods.map((m) => [m.name, [m.clientStreaming, m.serverStreaming]]));
    assert.deepEqual(got, EXPECTED_IMAGES_METHODS);
    const root = roots['berth.v1.Images'];
    assert.equal(root.lookupType('berth.v1.Image').fields.created_at.resolvedType.fullName,
      '.google.protobuf.Timestamp');
    assert.ok(root.lookupType('berth.v1.PullResponse').oneofs.event, 'PullResponse.event oneof');
  });

  // Dynamic clients: the descriptor set fetched by symbol, loaded by @grpc/proto-loader.
  const berthPkg = await check('build berth.v1 clients from the descriptor set of berth.v1.Containers', async () => {
    const set = await descriptorSetFor(reflection, 'berth.v1.Containers');
    log(`#   files: ${set.names.join(', ')}`);
    assert.ok(set.names.includes('google/protobuf/timestamp.proto'), 'imports came along');
    assert.ok(set.names.includes('berth/v1/networks.proto'), 'networks.proto came along (containers.proto imports it)');
    const pkg = grpc.loadPackageDefinition(packageFromDescriptorSet(set));
    assert.ok(pkg.berth.v1.ContainerConfig.type.field.some((f) => f.name === 'labels'));
    return pkg;
  });
  // A map field is, in the descriptor, a repeated entry message with key and value;
  // protobufjs 7 (under @grpc/proto-loader 0.8) builds it from descriptors as exactly that,
  // protobufjs 8 as a plain object. Ask the serializer which shape this one takes.
  const createDef = berthPkg.berth.v1.Containers.service.Create;
  let mapsAsEntries = true;
  try {
    createDef.requestSerialize({ config: { labels: [{ key: 'k', value: 'v' }] } });
  } catch {
    mapsAsEntries = false;
  }
  log(`#   map fields as ${mapsAsEntries ? 'repeated {key, value} entries' : 'objects'}`);
  toMapField = (obj) => (mapsAsEntries ? Object.entries(obj).map(([key, value]) => ({ key, value })) : obj);
  containers = makeClient(berthPkg, 'berth.v1.Containers');
  const system = makeClient(berthPkg, 'berth.v1.System');
  const networks = makeClient(berthPkg, 'berth.v1.Networks');
  const images = await check('build the berth.v1.Images client from the descriptor set of berth.v1.Images', async () => {
    const set = await descriptorSetFor(reflection, 'berth.v1.Images');
    log(`#   files: ${set.names.join(', ')}`);
    assert.ok(set.names.includes('berth/v1/images.proto'));
    return makeClient(grpc.loadPackageDefinition(packageFromDescriptorSet(set)), 'berth.v1.Images');
  });
  const volumes = await check('build the berth.v1.Volumes client from the descriptor set of berth.v1.Volumes', async () => {
    const set = await descriptorSetFor(reflection, 'berth.v1.Volumes');
    assert.ok(set.names.includes('berth/v1/volumes.proto'));
    const methods = describeService(roots['berth.v1.Volumes'], 'berth.v1.Volumes');
    assert.deepEqual(Object.fromEntries(methods.map((m) => [m.name, [m.clientStreaming, m.serverStreaming]])),
      EXPECTED_VOLUMES_METHODS);
    return makeClient(grpc.loadPackageDefinition(packageFromDescriptorSet(set)), 'berth.v1.Volumes');
  });
  const health = await check('build the health client from the descriptor set of grpc.health.v1.Health', async () => {
    const set = await descriptorSetFor(reflection, 'grpc.health.v1.Health');
    return makeClient(grpc.loadPackageDefinition(packageFromDescriptorSet(set)), 'grpc.health.v1.Health');
  });

  await check('Health/Check answers SERVING', async () => {
    const r = await unary(health, 'Check', { service: '' });
    assert.equal(r.status, 'SERVING');
  });

  await check('Health/Watch (server stream) sends SERVING first', async () => {
    const call = health.Watch({ service: '' }, { deadline: deadline() });
    const first = await withTimeout(new Promise((resolve, reject) => {
      call.on('data', resolve);
      call.on('error', reject);
    }), CALL_TIMEOUT_MS, 'Health/Watch');
    assert.equal(first.status, 'SERVING');
    call.on('error', () => {});  // the CANCELLED status that follows
    call.cancel();
  });

  if (useTls) {
    // The same health client, but presenting other certificates (or none).
    const HealthCtor = health.constructor;
    const checkAs = (creds) => {
      const c = new HealthCtor(target(), creds);
      clients.push(c);
      return unary(c, 'Check', { service: '' });
    };
    await check('mTLS: a client without a certificate is refused at the handshake (UNAVAILABLE)', async () => {
      await expectGrpcError(checkAs(credentials(null)), grpc.status.UNAVAILABLE);
    });
    await check('mTLS: a certificate from another CA is refused at the handshake (UNAVAILABLE)', async () => {
      await expectGrpcError(checkAs(credentials('reflection-client', path.join(tmpDir, 'other-ca'))),
        grpc.status.UNAVAILABLE);
    });
    await check('mTLS: plaintext on the TLS port fails (UNAVAILABLE)', async () => {
      await expectGrpcError(checkAs(grpc.credentials.createInsecure()), grpc.status.UNAVAILABLE);
    });
    await check('mTLS: an identity with no role gets PERMISSION_DENIED naming it', async () => {
      const e = await expectGrpcError(checkAs(credentials('stranger')), grpc.status.PERMISSION_DENIED);
      assert.match(e.details, /spiffe:\/\/berth\/stranger/);
    });
  }
  await check('System/Version', async () => {
    const r = await unary(system, 'Version', {});
    log(`#   version=${r.version} api=${r.api_version} cgroups=${r.cgroup_driver} kernel=${r.kernel}`);
    assert.equal(r.api_version, 'berth.v1');
    assert.ok(r.version.length > 0);
    assert.ok(['v1', 'v2'].includes(r.cgroup_driver), r.cgroup_driver);
  });

  await check('System/DiskUsage counts the default image and its layer', async () => {
    const r = await unary(system, 'DiskUsage', {});
    log(`#   images=${r.images} (${r.images_size} B) layers=${r.layers} (${r.layers_size} B) ` +
      `containers=${r.containers} reclaimable=${r.reclaimable_size} B`);
    assert.equal(r.images, 1);
    assert.ok(Number(r.images_size) > 0);
    assert.equal(r.layers, 1);
    assert.ok(Number(r.layers_size) > 0);
    assert.equal(r.containers, 0);
  });

  const busybox = await check('Images/List has the default busybox image', async () => {
    const r = await unary(images, 'List', {});
    const b = r.images.find((i) => i.names.includes('busybox:latest'));
    assert.ok(b, `no busybox:latest in ${JSON.stringify(r.images.map((i) => i.names))}`);
    assert.match(b.id, /^sha256:[0-9a-f]{64}$/);
    assert.match(b.manifest_digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(Number(b.size) > 0);
    return b;
  });
  await check('Images/Inspect busybox (by name and by id prefix)', async () => {
    const { image } = await unary(images, 'Inspect', { reference: 'busybox' });
    assert.equal(image.id, busybox.id);
    assert.equal(image.os, 'linux');
    assert.equal(image.layers.length, 1);
    assert.equal(image.diff_ids.length, 1);
    assert.deepEqual(image.cmd, ['sh']);
    const byId = await unary(images, 'Inspect', { reference: busybox.id.slice(7, 19) });
    assert.equal(byId.image.id, busybox.id);
    await expectGrpcError(unary(images, 'Inspect', { reference: 'refl/no-such-image:v1' }), grpc.status.NOT_FOUND);
  });
  await check('Images/Tag busybox as refl/busybox:tagged', async () => {
    const { image } = await unary(images, 'Tag', { source: 'busybox', target: 'refl/busybox:tagged' });
    assert.equal(image.id, busybox.id);
    assert.ok(image.names.includes('refl/busybox:tagged'), JSON.stringify(image.names));
    assert.ok(image.names.includes('busybox:latest'), JSON.stringify(image.names));
  });
  await check('Images/Remove of the tag untags it and deletes nothing', async () => {
    const r = await unary(images, 'Remove', { reference: 'refl/busybox:tagged' });
    assert.deepEqual(r.untagged, ['refl/busybox:tagged']);
    assert.deepEqual(r.deleted, []);
    await expectGrpcError(unary(images, 'Inspect', { reference: 'refl/busybox:tagged' }), grpc.status.NOT_FOUND);
  });
  const exported = await check('Images/Export (server stream) of busybox: an OCI layout tar', async () => {
    const msgs = await withTimeout(collect(images.Export({ references: ['busybox'] }, { deadline: deadline() })),
      CALL_TIMEOUT_MS, 'Export');
    const tar = Buffer.concat(msgs.map((m) => m.chunk));
    log(`#   ${msgs.length} chunks, ${tar.length} bytes`);
    assert.ok(tar.length > 1024);
    assert.equal(tar.length % 512, 0, 'a tar is made of 512-byte blocks');
    for (const name of ['oci-layout', 'index.json', `blobs/sha256/${busybox.manifest_digest.slice(7)}`]) {
      assert.ok(tar.includes(Buffer.from(name)), `the tar has no ${name}`);
    }
    return tar;
  });
  await check('Images/Import (client stream) of the exported bytes gives busybox back', async () => {
    const r = await withTimeout(new Promise((resolve, reject) => {
      const call = images.Import({ deadline: deadline() }, (err, resp) => (err ? reject(err) : resolve(resp)));
      for (let off = 0; off < exported.length; off += 64 * 1024) call.write({ chunk: exported.subarray(off, off + 64 * 1024) });
      call.end();
    }), CALL_TIMEOUT_MS, 'Import');
    assert.equal(r.images.length, 1);
    assert.equal(r.images[0].id, busybox.id);
    assert.equal(r.images[0].manifest_digest, busybox.manifest_digest);
    assert.ok(r.images[0].names.includes('busybox:latest'), JSON.stringify(r.images[0].names));
  });
  await check('Images/Import of bytes that are no image archive fails with INVALID_ARGUMENT (3)', async () => {
    await expectGrpcError(withTimeout(new Promise((resolve, reject) => {
      const call = images.Import({ deadline: deadline() }, (err, resp) => (err ? reject(err) : resolve(resp)));
      call.write({ chunk: Buffer.from('not a tar') });
      call.end();
    }), CALL_TIMEOUT_MS, 'Import'), grpc.status.INVALID_ARGUMENT);
  });
  await check('Images/Pull from a registry nobody runs fails with UNAVAILABLE (14) or NOT_FOUND (5)', async () => {
    const call = images.Pull({ reference: '127.0.0.1:1/refl/none:v1' }, { deadline: deadline() });
    const e = await withTimeout(collect(call).then(() => null, (err) => err), CALL_TIMEOUT_MS, 'Pull');
    assert.ok(e, 'the pull succeeded');
    assert.ok([grpc.status.UNAVAILABLE, grpc.status.NOT_FOUND].includes(e.code), `code ${e.code}: ${e.details}`);
    log(`#   ${e.code}: ${e.details}`);
  });

  const labels = { suite: 'reflection', run: String(process.pid) };
  const create = async (name, command, extra = {}) => {
    const r = await unary(containers, 'Create', {
      config: { name, image: 'busybox', command, labels: toMapField(labels), ...extra },
    });
    assert.match(r.container.id, /^[0-9a-f]{64}$/);
    assert.equal(r.container.name, name);
    assert.equal(r.container.state, 'CREATED');
    return r.container;
  };

  // A container that prints and exits 3.
  const c1 = await check('Containers/Create (sh -c "echo hi; exit 3")', () =>
    create('refl-exit3', ['sh', '-c', 'echo hi; exit 3']));
  await check('Containers/Start', async () => {
    const r = await unary(containers, 'Start', { id: c1.id });
    assert.equal(r.container.id, c1.id);
    assert.ok(['RUNNING', 'EXITED'].includes(r.container.state), r.container.state);
  });
  await check('Containers/Wait returns exit code 3', async () => {
    const r = await unary(containers, 'Wait', { id: c1.id });
    assert.equal(r.exit_code, 3);
    assert.equal(r.container.state, 'EXITED');
    assert.equal(r.container.exit_code, 3);
  });
  await check('Containers/Logs streams "hi"', async () => {
    const msgs = await withTimeout(collect(containers.Logs({ id: c1.id }, { deadline: deadline() })),
      CALL_TIMEOUT_MS, 'Logs');
    assert.ok(msgs.length >= 1, 'no log chunks');
    const text = msgs.map((m) => m.chunk.data.toString()).join('');
    assert.match(text, /^hi\n/m);
    assert.ok(msgs.every((m) => m.chunk.stream === 'STDOUT'), 'all chunks from stdout');
    assert.ok(Number(msgs[0].chunk.time.seconds) > 0, 'chunks carry a time');
  });

  // A long-running container for Exec, Inspect, Pause, Resume, Stop.
  const c2 = await check('Containers/Create + Start (sleep 60)', async () => {
    const c = await create('refl-sleep', ['sleep', '60']);
    const r = await unary(containers, 'Start', { id: c.name });
    assert.equal(r.container.state, 'RUNNING');
    assert.ok(r.container.pid > 0);
    return c;
  });
  await check('Containers/Exec (bidi stream) runs echo x', async () => {
    const call = containers.Exec({ deadline: deadline() });
    const done = withTimeout(collect(call), CALL_TIMEOUT_MS, 'Exec');
    call.write({ id: c2.id, start: { args: ['echo', 'x'] } });
    call.end();
    const msgs = await done;
    assert.equal(msgs[0].msg, 'pid', `first message should carry the pid: ${JSON.stringify(msgs[0])}`);
    assert.ok(msgs[0].pid > 0);
    const out = msgs.filter((m) => m.msg === 'output' && m.output.stream === 'STDOUT')
      .map((m) => m.output.data.toString()).join('');
    assert.equal(out, 'x\n');
    const last = msgs[msgs.length - 1];
    assert.equal(last.msg, 'exit_code', `last message should carry the exit code: ${JSON.stringify(last)}`);
    assert.equal(last.exit_code, 0);
  });

  // Attach (bidi): attach before start, feed stdin, read the output and exit code.
  const c3 = await check('Containers/Attach (bidi stream) with stdin', async () => {
    const c = await create('refl-attach', ['sh', '-c', 'read line; echo got:$line'], { open_stdin: true });
    const call = containers.Attach({ deadline: deadline() });
    const done = withTimeout(collect(call), CALL_TIMEOUT_MS, 'Attach');
    const attached = new Promise((resolve) => call.on('metadata', resolve));
    call.write({ id: c.id, stdin: true });
    await withTimeout(attached, CALL_TIMEOUT_MS, 'Attach initial metadata');
    await unary(containers, 'Start', { id: c.id });
    call.write({ id: c.id, stdin_data: Buffer.from('hello\n') });
    call.write({ id: c.id, close_stdin: true });
    call.end();
    const msgs = await done;
    const out = msgs.filter((m) => m.msg === 'output').map((m) => m.output.data.toString()).join('');
    assert.equal(out, 'got:hello\n');
    const last = msgs[msgs.length - 1];
    assert.equal(last.msg, 'exit_code', JSON.stringify(last));
    assert.equal(last.exit_code, 0);
    return c;
  });

  // Run (bidi): create, attach and start in one call; with auto_remove the exit code comes
  // once the container is gone.
  await check('Containers/Run (bidi stream) with stdin and auto_remove', async () => {
    const call = containers.Run({ deadline: deadline() });
    const done = withTimeout(collect(call), CALL_TIMEOUT_MS, 'Run');
    call.write({
      config: { name: 'refl-run', image: 'busybox', command: ['sh', '-c', 'read line; echo ran:$line; exit 4'],
        labels: toMapField(labels), open_stdin: true, auto_remove: true },
      stdin: true,
      stdin_data: Buffer.from('first\n'),
    });
    call.write({ close_stdin: true });
    call.end();
    const msgs = await done;
    assert.equal(msgs[0].msg, 'created', `first message should carry the container: ${JSON.stringify(msgs[0])}`);
    assert.match(msgs[0].created.id, /^[0-9a-f]{64}$/);
    assert.equal(msgs[0].created.name, 'refl-run');
    const out = msgs.filter((m) => m.msg === 'output').map((m) => m.output.data.toString()).join('');
    assert.equal(out, 'ran:first\n');
    const last = msgs[msgs.length - 1];
    assert.equal(last.msg, 'exit_code', JSON.stringify(last));
    assert.equal(last.exit_code, 4);
    // Removed before the exit code came.
    await expectGrpcError(unary(containers, 'Inspect', { id: msgs[0].created.id }), grpc.status.NOT_FOUND);
  });

  await check('Containers/List by label selector and by state', async () => {
    const all = await unary(containers, 'List', { label_selector: `suite=reflection,run=${process.pid}` });
    assert.deepEqual(all.containers.map((c) => c.name).sort(), ['refl-attach', 'refl-exit3', 'refl-sleep']);
    const running = await unary(containers, 'List', { states: ['RUNNING'] });
    assert.deepEqual(running.containers.map((c) => c.id), [c2.id]);
  });
  await check('Containers/Inspect', async () => {
    const { container: c } = await unary(containers, 'Inspect', { id: c2.id.slice(0, 12) });
    assert.equal(c.id, c2.id);
    assert.equal(c.state, 'RUNNING');
    assert.deepEqual(c.command, ['sleep', '60']);
    assert.deepEqual(fromMapField(c.labels), labels);
    assert.equal(c.config.image, 'busybox');
    assert.ok(Number(c.started_at.seconds) > 0);
    assert.equal(c.network_settings.mode, 'bridge');
    assert.equal(c.network_settings.network, 'bridge');
    assert.match(c.network_settings.ip_address, /^\d+\.\d+\.\d+\.\d+$/);
  });
  await check('Containers/Stats and StatsStream (server stream) of the running container', async () => {
    const r = await unary(containers, 'Stats', { ids: [c2.id] });
    assert.equal(r.stats.length, 1);
    const st = r.stats[0];
    assert.equal(st.id, c2.id);
    assert.equal(st.state, 'RUNNING');
    assert.ok(Number(st.cpu.usage_ns) > 0, `cpu ${JSON.stringify(st.cpu)}`);
    assert.ok(Number(st.memory.usage_bytes) > 0, `memory ${JSON.stringify(st.memory)}`);
    assert.equal(st.pids.current, '1');
    assert.deepEqual(st.networks.map((n) => n.name), ['eth0']);
    const call = containers.StatsStream({ ids: [c2.id], interval_ms: 100 }, { deadline: deadline() });
    const frames = [];
    await withTimeout(new Promise((resolve, reject) => {
      call.on('data', (f) => { frames.push(f); if (frames.length === 2) resolve(); });
      call.on('error', reject);
    }), CALL_TIMEOUT_MS, 'StatsStream');
    call.on('error', () => {});  // the CANCELLED status that follows
    call.cancel();
    assert.ok(Number(frames[1].stats[0].cpu.usage_ns) >= Number(frames[0].stats[0].cpu.usage_ns));
  });
  await check('Containers/Pause', async () => {
    await unary(containers, 'Pause', { id: c2.id });
    const { container: c } = await unary(containers, 'Inspect', { id: c2.id });
    assert.equal(c.state, 'PAUSED');
  });
  await check('Containers/Resume', async () => {
    await unary(containers, 'Resume', { id: c2.id });
    const { container: c } = await unary(containers, 'Inspect', { id: c2.id });
    assert.equal(c.state, 'RUNNING');
  });
  await check('Containers/Stop (1 s grace)', async () => {
    const r = await unary(containers, 'Stop', { id: c2.id, timeout_seconds: 1 });
    assert.equal(r.container.state, 'EXITED');
  });

  const c4 = await check('Containers/Kill on another container', async () => {
    const c = await create('refl-kill', ['sleep', '60']);
    await unary(containers, 'Start', { id: c.id });
    await unary(containers, 'Kill', { id: c.id, signal: 9 });
    const r = await unary(containers, 'Wait', { id: c.id });
    assert.equal(r.container.state, 'EXITED');
    assert.equal(r.exit_code, 137);
    return c;
  });

  // The Networks service: the default network, then one of our own with a container on it.
  await check('Networks/List has the default network', async () => {
    const r = await unary(networks, 'List', {});
    const def = r.networks.find((n) => n.is_default);
    assert.ok(def, `no default network in ${JSON.stringify(r.networks)}`);
    assert.equal(def.name, 'bridge');
    assert.match(def.id, /^[0-9a-f]{64}$/);
    assert.equal(def.driver, 'bridge');
  });
  const net = await check('Networks/Create (10.98.0.0/24, labels)', async () => {
    const r = await unary(networks, 'Create', { name: 'refl-net', subnet: '10.98.0.0/24', labels: toMapField(labels) });
    assert.match(r.network.id, /^[0-9a-f]{64}$/);
    assert.equal(r.network.name, 'refl-net');
    assert.equal(r.network.subnet, '10.98.0.0/24');
    assert.equal(r.network.gateway, '10.98.0.1');
    assert.equal(r.network.is_default, false);
    assert.deepEqual(fromMapField(r.network.labels), labels);
    return r.network;
  });
  await check('Networks/Create of an overlapping subnet fails with FAILED_PRECONDITION (9)', async () => {
    await expectGrpcError(unary(networks, 'Create', { name: 'refl-overlap', subnet: '10.98.0.128/25' }),
      grpc.status.FAILED_PRECONDITION);
  });
  const c5 = await check('Containers/Create on the network, with a published port', async () => {
    const c = await create('refl-net-box', ['sleep', '60'], {
      network: 'refl-net',
      ports: [{ protocol: 'tcp', host_port: 18999, container_port: 80 }],
    });
    await unary(containers, 'Start', { id: c.id });
    const { container: got } = await unary(containers, 'Inspect', { id: c.id });
    const ns = got.network_settings;
    assert.equal(ns.mode, 'bridge');
    assert.equal(ns.network, 'refl-net');
    assert.equal(ns.network_id, net.id);
    assert.match(ns.ip_address, /^10\.98\.0\.\d+$/);
    assert.equal(ns.gateway, '10.98.0.1');
    assert.equal(ns.ports.length, 1);
    assert.equal(ns.ports[0].host_port, 18999);
    return got;
  });
  await check('Networks/Inspect (by name) lists the container', async () => {
    const r = await unary(networks, 'Inspect', { id: 'refl-net' });
    assert.equal(r.network.id, net.id);
    assert.deepEqual(r.network.containers, [c5.id]);
  });
  await check('Networks/Remove of a network in use fails with FAILED_PRECONDITION (9)', async () => {
    await expectGrpcError(unary(networks, 'Remove', { id: net.id }), grpc.status.FAILED_PRECONDITION);
  });
  await check('Networks/Remove once its container is removed', async () => {
    await unary(containers, 'Remove', { id: c5.id, force: true });
    await unary(networks, 'Remove', { id: net.id });
    await expectGrpcError(unary(networks, 'Inspect', { id: net.id }), grpc.status.NOT_FOUND);
    const r = await unary(networks, 'List', {});
    assert.deepEqual(r.networks.map((n) => n.name), ['bridge']);
  });

  // The Volumes service, and files in and out of a container with CopyTo and CopyFrom.
  await check('Volumes/Create (labels), List and Inspect', async () => {
    const r = await unary(volumes, 'Create', { name: 'refl-vol', labels: toMapField(labels) });
    assert.equal(r.volume.name, 'refl-vol');
    assert.equal(r.volume.driver, 'local');
    assert.deepEqual(fromMapField(r.volume.labels), labels);
    const listed = await unary(volumes, 'List', {});
    assert.deepEqual(listed.volumes.map((v) => v.name), ['refl-vol']);
    const got = await unary(volumes, 'Inspect', { name: 'refl-vol' });
    assert.ok(got.volume.mountpoint.endsWith('/volumes/refl-vol/_data'), got.volume.mountpoint);
  });
  await check('Volumes/Create with a driver this node lacks fails with INVALID_ARGUMENT (3)', async () => {
    await expectGrpcError(unary(volumes, 'Create', { name: 'x', driver: 'nfs' }), grpc.status.INVALID_ARGUMENT);
  });
  const c6 = await check('Containers/Create mounting the volume; CopyTo writes into it through the container', async () => {
    const c = await create('refl-vol-box', ['sleep', '60'], {
      network: 'none',
      mounts: [{ type: 'MOUNT_TYPE_VOLUME', source: 'refl-vol', destination: '/data' }],
    });
    await unary(containers, 'Start', { id: c.id });
    const r = await withTimeout(new Promise((resolve, reject) => {
      const call = containers.CopyTo({ deadline: deadline() }, (err, resp) => (err ? reject(err) : resolve(resp)));
      call.write({ id: c.id, path: '/data' });
      call.write({ data: oneFileTar('hello.txt', 'from node\n') });
      call.end();
    }), CALL_TIMEOUT_MS, 'CopyTo');
    assert.equal(Number(r.entries), 1);
    return c;
  });
  await check('Containers/CopyFrom streams the path stat, then a tar holding the file', async () => {
    const msgs = await withTimeout(collect(containers.CopyFrom({ id: c6.id, path: '/data/hello.txt' },
      { deadline: deadline() })), CALL_TIMEOUT_MS, 'CopyFrom');
    assert.equal(msgs[0].stat.name, 'hello.txt');
    assert.equal(Number(msgs[0].stat.size), 'from node\n'.length);
    const tar = Buffer.concat(msgs.map((m) => m.data));
    assert.equal(tar.length % 512, 0);
    assert.ok(tar.includes(Buffer.from('from node\n')));
    await expectGrpcError(collect(containers.CopyFrom({ id: c6.id, path: '/no/such' }, { deadline: deadline() })),
      grpc.status.NOT_FOUND);
  });
  await check('Volumes/Remove of a volume in use fails with FAILED_PRECONDITION (9); then Remove and Prune', async () => {
    const e = await expectGrpcError(unary(volumes, 'Remove', { name: 'refl-vol' }), grpc.status.FAILED_PRECONDITION);
    assert.match(e.details, /refl-vol-box/);
    await unary(containers, 'Remove', { id: c6.id, force: true });
    const got = await unary(volumes, 'Inspect', { name: 'refl-vol' });
    assert.ok(Number(got.volume.size_bytes) > 0);
    await unary(volumes, 'Remove', { name: 'refl-vol' });
    await unary(volumes, 'Create', { name: 'refl-unused' });
    const pruned = await unary(volumes, 'Prune', { all: true });
    assert.deepEqual(pruned.removed, ['refl-unused']);
    assert.deepEqual((await unary(volumes, 'List', {})).volumes, []);
  });

  await check('Images/Prune keeps busybox while containers use it', async () => {
    const r = await unary(images, 'Prune', {});
    assert.deepEqual(r.deleted, []);
    const { image } = await unary(images, 'Inspect', { reference: 'busybox' });
    assert.equal(image.containers, 4);
    const du = await unary(system, 'DiskUsage', {});
    assert.equal(du.containers, 4);
  });

  await check('Containers/Remove', async () => {
    for (const c of [c1, c2, c3, c4]) {
      await unary(containers, 'Remove', { id: c.id });
      await expectGrpcError(unary(containers, 'Inspect', { id: c.id }), grpc.status.NOT_FOUND);
    }
    const left = await unary(containers, 'List', {});
    assert.equal(left.containers.length, 0);
  });

  const events = await check('build the berth.v1.Events client from the descriptor set of berth.v1.Events', async () => {
    const set = await descriptorSetFor(reflection, 'berth.v1.Events');
    assert.ok(set.names.includes('berth/v1/events.proto'));
    const pkg = grpc.loadPackageDefinition(packageFromDescriptorSet(set));
    const methods = describeService(await reflection.fileContainingSymbol('berth.v1.Events'), 'berth.v1.Events');
    assert.deepEqual(Object.fromEntries(methods.map((m) => [m.name, [m.clientStreaming, m.serverStreaming]])),
      { Subscribe: [false, true] });
    return makeClient(pkg, 'berth.v1.Events');
  });
  await check('Events/Subscribe (server stream) from the start: this run\'s containers, filtered, in order', async () => {
    const call = events.Subscribe({
      since_sequence: '0',
      filter: { types: ['container'], labels: [`run=${process.pid}`] },
    }, { deadline: deadline() });
    const seen = [];
    await withTimeout(new Promise((resolve, reject) => {
      call.on('data', (e) => {
        seen.push(e);
        if (e.type === 'container.remove' && e.id === c4.id) resolve();
      });
      call.on('error', reject);
    }), CALL_TIMEOUT_MS, 'Events/Subscribe');
    call.on('error', () => {});  // the CANCELLED status that follows
    call.cancel();
    const seqs = seen.map((e) => Number(e.sequence));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in sequence order');
    assert.equal(new Set(seqs).size, seqs.length, 'each event once');
    assert.ok(seen.every((e) => e.type.startsWith('container.')), JSON.stringify(seen.map((e) => e.type)));
    const forC1 = seen.filter((e) => e.id === c1.id).map((e) => e.type);
    assert.deepEqual(forC1, ['container.create', 'container.start', 'container.exit', 'container.remove']);
    const exit = seen.find((e) => e.id === c1.id && e.type === 'container.exit');
    assert.equal(exit.exit_code, 3);
    assert.equal(exit.name, 'refl-exit3');
    assert.deepEqual(fromMapField(exit.labels), labels);
    log(`#   ${seen.length} events, sequence ${seqs[0]}..${seqs[seqs.length - 1]}`);
  });
  await check('Events/Subscribe with an unknown type fails with INVALID_ARGUMENT (3)', async () => {
    const call = events.Subscribe({ filter: { types: ['container.died'] } }, { deadline: deadline() });
    const e = await withTimeout(collect(call).then(() => null, (err) => err), CALL_TIMEOUT_MS, 'Subscribe');
    assert.ok(e, 'the subscription was accepted');
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT, e.details);
    assert.match(e.details, /container\.died/);
  });

  await check('Containers/Inspect of an unknown id fails with NOT_FOUND (5)', async () => {
    const e = await expectGrpcError(unary(containers, 'Inspect', { id: 'no-such-container' }),
      grpc.status.NOT_FOUND);
    assert.equal(e.code, 5);
  });

  await check('Images/Prune without containers removes busybox and frees its bytes', async () => {
    const r = await unary(images, 'Prune', {});
    assert.deepEqual(r.deleted, [busybox.id]);
    assert.ok(Number(r.reclaimed_bytes) > 0, `reclaimed ${r.reclaimed_bytes}`);
    const { images: left } = await unary(images, 'List', {});
    assert.equal(left.length, 0);
    const du = await unary(system, 'DiskUsage', {});
    assert.equal(du.images, 0);
    assert.equal(du.layers, 0);
  });
}

// ---------------------------------------------------------------------------------------

let failure = null;
const watchdog = setTimeout(() => {
  failure = failure || new Error(`the test did not finish within ${OVERALL_TIMEOUT_MS} ms`);
  finish();
}, OVERALL_TIMEOUT_MS);

let finishing = null;
function finish() {
  finishing = finishing || (async () => {
    clearTimeout(watchdog);
    const problems = await cleanup();
    for (const p of problems) log(`# cleanup: ${p}`);
    if (failure) {
      log(`# error: ${failure.stack || failure}`);
      log(`# berthd log (tail):\n${agentLogTail.replace(/^/gm, '#   ')}`);
    }
    const ok = !failure && problems.length === 0;
    log(ok ? `reflection test: PASS (${passed} checks)` : `reflection test: FAIL (${passed} checks passed)`);
    process.exit(ok ? 0 : 1);
  })();
  return finishing;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    failure = failure || new Error(`interrupted by ${sig}`);
    finish();
  });
}

try {
  await run();
} catch (e) {
  failure = failure || e;
}
await finish();
