// Differential test generator: random Cedar policies, entities and requests,
// answered by the reference engine (@cedar-policy/cedar-wasm).  Writes Cedar
// integration-test files (the format `custos policy test` runs) into OUTDIR,
// so that any disagreement shows as a failing request there.
//
// usage: node gen.mjs OUTDIR [SEED] [FILES] [REQUESTS_PER_FILE]
// Deterministic for a seed: the random source is a small xorshift generator.
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import fs from 'node:fs';
import path from 'node:path';

const outdir = process.argv[2];
if (!outdir) {
  console.error('usage: node gen.mjs OUTDIR [SEED] [FILES] [REQUESTS]');
  process.exit(2);
}
let seed = BigInt(process.argv[3] || '1') | 1n;
const nfiles = Number(process.argv[4] || '150');
const nreq = Number(process.argv[5] || '20');

function rnd() {
  seed ^= (seed << 13n) & 0xffffffffffffffffn;
  seed ^= seed >> 7n;
  seed ^= (seed << 17n) & 0xffffffffffffffffn;
  return Number(seed & 0xffffffffn) / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];
const chance = (p) => rnd() < p;

const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const groups = ['staff', 'admins', 'ops', 'all'];
const docs = ['d1', 'd2', 'd3', 'd4', 'd5'];
const folders = ['f1', 'f2', 'f3'];
const actions = ['view', 'edit', 'delete', 'share'];
const agroups = ['read', 'write'];
const strs = ['', 'a', 'ab', 'abc', 'b*c', 'hello', 'x y', 'HR', 'Sales'];
const ips = ['10.0.0.1', '10.0.0.0/8', '127.0.0.1', '192.168.1.7', '224.0.0.5', '::1', 'ff02::1',
  '2001:db8::1', '10.1.2.3/16', '0.0.0.0/0', '1:2:3:4:5:6:7::', '::', 'fe80::1:2/64', '127.255.0.1/9'];
const dts = ['2024-10-15', '2024-10-15T11:35:00Z', '2024-10-15T11:35:00.123+0100', '2024-10-15T10:35:00.123Z',
  '1969-12-31T23:59:59.999Z', '0000-01-01', '9999-12-31T23:59:59.999-2359', '2024-02-29', '1970-01-01'];
const baddts = ['2023-02-29', '2024-13-01', '2024-00-10', '2024-10-15T24:00:00Z', '2024-10-15T11:35:00', '24-10-15', '2024-10-15T11:35:00+2400',
  '', '2024-10-15T11:35:00.12Z', '2024-10-15 '];
const durs = ['1d2h3m4s5ms', '-1d12h', '0ms', '1s', '1000ms', '-9223372036854775808ms', '9223372036854775807ms',
  '106751991167d', '2m', '120s', '1h', '-1ms', '23h59m59s999ms'];
const baddurs = ['1h1d', '', '-', '1', '1.5h', '9223372036854775808ms', '106751991168d', '1ms1s'];
const decs = ['0.0', '1.5', '-2.25', '0.0001', '3.1415', '100.0', '-0.5', '922337203685477.5807'];
const longs = [0, 1, -1, 2, 5, 7, 100, -100, 9223372036854775807n, -9223372036854775808n, 4611686018427387904n];

const uid = (t, id) => ({ type: t, id });
const lit = (t, id) => `${t}::${JSON.stringify(id)}`;
const esc = (s) => JSON.stringify(s);

function longLit() {
  const v = pick(longs);
  return typeof v === 'bigint' ? v.toString() : String(v);
}

function entityExpr(d) {
  const opts = [
    () => 'principal', () => 'resource', () => 'action',
    () => lit('User', pick([...users, 'ghost'])), () => lit('Group', pick(groups)),
    () => lit('Doc', pick(docs)), () => lit('Folder', pick(folders)),
    () => 'resource.owner', () => 'principal.manager',
    () => lit('Action', pick([...actions, ...agroups])),
  ];
  if (d > 2 && chance(0.2)) return `(if ${boolExpr(d - 1)} then ${entityExpr(d - 1)} else ${entityExpr(d - 1)})`;
  return pick(opts)();
}

function longExpr(d) {
  if (d <= 0) return pick([longLit, () => 'principal.level', () => 'context.n', () => 'resource.classification'])();
  return pick([
    longLit, longLit,
    () => 'principal.level', () => 'context.n', () => 'resource.classification',
    () => 'principal.profile.age', () => 'context.rec.x',
    () => `(${longExpr(d - 1)} + ${longExpr(d - 1)})`,
    () => `(${longExpr(d - 1)} - ${longExpr(d - 1)})`,
    () => `(${longExpr(d - 1)} * ${longExpr(d - 1)})`,
    () => `-${longExpr(d - 1)}`,
    () => `(if ${boolExpr(d - 1)} then ${longExpr(d - 1)} else ${longExpr(d - 1)})`,
    () => anyExpr(d - 1), // sometimes the wrong type: a type error
  ])();
}

function strExpr(d) {
  return pick([
    () => esc(pick(strs)), () => esc(pick(strs)),
    () => 'principal.name', () => 'context.s', () => 'resource.title', () => 'principal.profile.dept',
    () => 'principal["name"]',
    () => (d > 0 ? anyExpr(d - 1) : esc('z')),
  ])();
}

function setExpr(d) {
  return pick([
    () => `[${longExpr(0)}, ${longExpr(0)}]`,
    () => `[${esc(pick(strs))}, ${esc(pick(strs))}]`,
    () => '[]',
    () => `[${entityExpr(0)}, ${entityExpr(0)}]`,
    () => 'principal.tags', () => 'resource.readers', () => 'context.list',
    () => `[${anyExpr(d - 1)}, ${anyExpr(d - 1)}]`,
    () => `[[1, 2], [${longExpr(0)}]]`,
  ])();
}

function ipExpr() {
  return pick([() => `ip(${esc(pick(ips))})`, () => 'context.src', () => 'principal.addr',
    () => `ip(${esc(pick(['1.2.3', '300.1.1.1', '01.2.3.4', '::g', '::ffff:10.0.0.1', '10.0.0.0/08', '00001::1', '1.2.3.4/33', '1:2:3:4:5:6:7:8:9', '1::2::3']))})`]);
}

function decExpr() {
  return pick([() => `decimal(${esc(pick(decs))})`, () => 'context.d', () => 'principal.score',
    () => `decimal(${esc(pick(['1', '1.23456', 'x', '922337203685477.5808', '1.', '+1.0', '01.5', '-0.0', '-922337203685477.5808', '-922337203685477.5809']))})`]);
}

function dtExpr(d) {
  const base = [() => `datetime(${esc(pick(dts))})`, () => 'context.t', () => 'principal.since',
    () => `datetime(${esc(pick(baddts))})`];
  if (d <= 0) return pick(base)();
  return pick([...base, () => `${dtExpr(d - 1)}.offset(${durExpr(d - 1)})`, () => `${dtExpr(d - 1)}.toDate()`])();
}

function durExpr(d) {
  const base = [() => `duration(${esc(pick(durs))})`, () => 'context.dur', () => `duration(${esc(pick(baddurs))})`];
  if (d <= 0) return pick(base)();
  return pick([...base, () => `${dtExpr(d - 1)}.durationSince(${dtExpr(d - 1)})`, () => `${dtExpr(d - 1)}.toTime()`])();
}

function dtBool(d) {
  const cmp = () => pick(['<', '<=', '>', '>=', '==', '!=']);
  return pick([
    () => `${dtExpr(d)} ${cmp()} ${dtExpr(d)}`,
    () => `${durExpr(d)} ${cmp()} ${durExpr(d)}`,
    () => `${durExpr(d)}.${pick(['toMilliseconds', 'toSeconds', 'toMinutes', 'toHours', 'toDays'])}() ${cmp()} ${pick(['0', '1', '-1', '26', '93784', '1563', '106751991167'])}`,
  ])();
}

function recExpr(d) {
  return pick([
    () => `{a: ${longExpr(0)}, b: ${esc(pick(strs))}}`,
    () => '{}', () => 'context.rec', () => 'principal.profile', () => 'context',
    () => `{"x": ${anyExpr(d - 1)}}`,
  ])();
}

function anyExpr(d) {
  if (d < 0) d = 0;
  return pick([() => `(${boolExpr(d)})`, () => longExpr(d), () => strExpr(d), () => entityExpr(d),
    () => setExpr(d), () => recExpr(d), () => ipExpr()(), () => decExpr()()])();
}

function pattern() {
  let s = '';
  const n = ri(5);
  for (let i = 0; i < n; i++) s += pick(['a', 'b', '*', '\\*', 'c', ' ', 'l', 'o']);
  return '"' + s + '"';
}

function boolExpr(d) {
  if (d <= 0) return pick(['true', 'false', 'context.b', 'resource.public', 'principal.active']);
  const cmp = () => pick(['<', '<=', '>', '>=']);
  const eq = () => pick(['==', '!=']);
  return pick([
    () => pick(['true', 'false', 'context.b', 'resource.public']),
    () => `${longExpr(d - 1)} ${cmp()} ${longExpr(d - 1)}`,
    () => `${anyExpr(d - 1)} ${eq()} ${anyExpr(d - 1)}`,
    () => `${entityExpr(d - 1)} == ${entityExpr(d - 1)}`,
    () => `(${boolExpr(d - 1)} && ${boolExpr(d - 1)})`,
    () => `(${boolExpr(d - 1)} || ${boolExpr(d - 1)})`,
    () => `!${boolExpr(d - 1)}`,
    () => `${entityExpr(d - 1)} in ${entityExpr(d - 1)}`,
    () => `${entityExpr(d - 1)} in [${entityExpr(0)}, ${entityExpr(0)}]`,
    () => `${entityExpr(d - 1)} in ${setExpr(d - 1)}`,
    () => `${pick(['principal', 'resource', 'context', 'principal.profile', 'resource.owner', 'context.rec', lit('User', 'ghost')])} has ${pick(['level', 'name', 'owner', 'x', 'age', 'public', 'profile', 'n', '"title"'])}`,
    () => `principal has profile.age`,
    () => `${strExpr(d - 1)} like ${pattern()}`,
    () => `${entityExpr(d - 1)} is ${pick(['User', 'Doc', 'Group', 'Folder', 'Action'])}`,
    () => `${entityExpr(d - 1)} is ${pick(['User', 'Doc'])} in ${entityExpr(d - 1)}`,
    () => `${setExpr(d - 1)}.contains(${anyExpr(d - 1)})`,
    () => `${setExpr(d - 1)}.containsAll(${setExpr(d - 1)})`,
    () => `${setExpr(d - 1)}.containsAny(${setExpr(d - 1)})`,
    () => `${setExpr(d - 1)}.isEmpty()`,
    () => `${ipExpr()()}.${pick(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast'])}()`,
    () => `${ipExpr()()}.isInRange(${ipExpr()()})`,
    () => `${decExpr()()}.${pick(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual'])}(${decExpr()()})`,
    () => `(if ${boolExpr(d - 1)} then ${boolExpr(d - 1)} else ${boolExpr(d - 1)})`,
    () => `${recExpr(d - 1)} == ${recExpr(d - 1)}`,
    () => `${anyExpr(d - 1)}`, // maybe not a bool: a type error in a condition
    () => `resource.owner == principal`,
    () => `principal in resource.readers`,
    () => `${entityExpr(d - 1)}.hasTag(${pick([esc('k1'), esc('k2'), 'context.s', '1'])})`,
    () => `${entityExpr(d - 1)}.getTag(${pick([esc('k1'), esc('k2')])}) == ${anyExpr(d - 1)}`,
    () => `resource.readers.contains(principal)`,
    () => `${dtExpr(d - 1)} ${cmp()} ${dtExpr(d - 1)}`,
    () => `${durExpr(d - 1)} ${cmp()} ${durExpr(d - 1)}`,
    () => `${dtExpr(d - 1)} ${eq()} ${dtExpr(d - 1)}`,
    () => `${durExpr(d - 1)} ${cmp()} ${pick([() => dtExpr(d - 1), () => longExpr(d - 1)])()}`,
    () => `${durExpr(d - 1)}.${pick(['toMilliseconds', 'toSeconds', 'toMinutes', 'toHours', 'toDays'])}() ${cmp()} ${longExpr(d - 1)}`,
    () => `${pick(['ip("1.2.3.4", "x").isIpv4()', 'decimal("1.0").lessThan(decimal("2.0"), 1)', 'ip("::1").isLoopback(1)', 'duration()', 'datetime("1970-01-01").toDate(1) == datetime("1970-01-01")'])}`,
    () => `${pick(['context', 'principal'])} has "k\\0"`,
    () => `context["k\\0"] == ${longExpr(0)}`,
  ])();
}

function scope(kind) {
  const pr = () => pick([
    'principal', `principal == ${lit('User', pick(users))}`, `principal in ${lit('Group', pick(groups))}`,
    'principal is User', `principal is User in ${lit('Group', pick(groups))}`, 'principal is Group',
    `principal in ${lit('User', pick(users))}`,
  ]);
  const ac = () => pick([
    'action', `action == ${lit('Action', pick(actions))}`, `action in ${lit('Action', pick(agroups))}`,
    `action in [${lit('Action', pick(actions))}, ${lit('Action', pick([...actions, ...agroups]))}]`,
    'action in []',
  ]);
  const rs = () => pick([
    'resource', `resource == ${lit('Doc', pick(docs))}`, `resource in ${lit('Folder', pick(folders))}`,
    'resource is Doc', `resource is Doc in ${lit('Folder', pick(folders))}`, 'resource is Folder',
  ]);
  return kind === 0 ? pr() : kind === 1 ? ac() : rs();
}

function policy() {
  let s = '';
  if (chance(0.2)) s += `@reason("because {principal} asked")\n`;
  if (chance(0.1)) s += `@note("x")\n`;
  s += `${chance(0.7) ? 'permit' : 'forbid'} (${scope(0)}, ${scope(1)}, ${scope(2)})`;
  const nc = ri(3);
  // a fifth of the conditions test the datetime extension alone, so that its
  // answers decide often enough to be compared
  for (let i = 0; i < nc; i++)
    s += `\n  ${chance(0.75) ? 'when' : 'unless'} { ${chance(0.2) ? dtBool(1 + ri(2)) : boolExpr(1 + ri(3))} }`;
  return s + ';\n';
}

function val(kind) {
  switch (kind) {
    case 'long': return Number(pick([0, 1, 3, 5, 7, 10, 100, -4]));
    case 'str': return pick(strs);
    case 'bool': return chance(0.5);
    case 'ip': return { __extn: { fn: 'ip', arg: pick(ips) } };
    case 'dec': return { __extn: { fn: 'decimal', arg: pick(decs) } };
    case 'dt': return { __extn: { fn: 'datetime', arg: pick(dts) } };
    case 'dur': return { __extn: { fn: 'duration', arg: pick(durs) } };
  }
  return null;
}

function entities() {
  const out = [];
  const ent = (t, id, attrs, parents) => out.push({ uid: uid(t, id), attrs, parents });
  for (const u of users) {
    const a = {};
    if (chance(0.85)) a.level = val('long');
    if (chance(0.85)) a.name = val('str');
    if (chance(0.7)) a.active = val('bool');
    if (chance(0.6)) a.tags = [val('str'), val('str')];
    if (chance(0.6)) a.manager = { __entity: uid('User', pick(users)) };
    if (chance(0.5)) a.addr = val('ip');
    if (chance(0.5)) a.score = val('dec');
    if (chance(0.5)) a.since = val('dt');
    if (chance(0.6)) a.profile = chance(0.8) ? { age: val('long'), dept: val('str') } : { dept: val('str') };
    const parents = groups.filter(() => chance(0.35)).map((g) => uid('Group', g));
    ent('User', u, a, parents);
    if (chance(0.5)) out[out.length - 1].tags = chance(0.5) ? { k1: val('long') } : { k1: val('str'), k2: val('bool') };
  }
  groups.forEach((g, i) => {
    // parents only among later groups: no cycles
    const parents = groups.slice(i + 1).filter(() => chance(0.4)).map((x) => uid('Group', x));
    ent('Group', g, {}, parents);
  });
  for (const d of docs) {
    const a = {};
    if (chance(0.85)) a.owner = { __entity: uid('User', pick([...users, 'ghost'])) };
    if (chance(0.8)) a.classification = val('long');
    if (chance(0.8)) a.public = val('bool');
    if (chance(0.7)) a.readers = users.filter(() => chance(0.3)).map((u) => ({ __entity: uid('User', u) }));
    if (chance(0.7)) a.title = val('str');
    const parents = folders.filter(() => chance(0.4)).map((f) => uid('Folder', f));
    ent('Doc', d, a, parents);
    if (chance(0.4)) out[out.length - 1].tags = { k2: val('str') };
  }
  folders.forEach((f, i) => {
    const parents = folders.slice(i + 1).filter(() => chance(0.4)).map((x) => uid('Folder', x));
    ent('Folder', f, { title: val('str') }, parents);
  });
  for (const a of actions) {
    const parents = agroups.filter(() => chance(0.5)).map((g) => uid('Action', g));
    ent('Action', a, {}, parents);
  }
  for (const g of agroups) ent('Action', g, {}, []);
  return out;
}

function context() {
  const c = {};
  if (chance(0.9)) c.n = val('long');
  if (chance(0.9)) c.s = val('str');
  if (chance(0.9)) c.b = val('bool');
  if (chance(0.7)) c.src = val('ip');
  if (chance(0.7)) c.d = val('dec');
  if (chance(0.7)) c.list = [val('long'), val('long')];
  if (chance(0.7)) c.rec = chance(0.8) ? { x: val('long') } : {};
  if (chance(0.6)) c.t = val('dt');
  if (chance(0.6)) c.dur = val('dur');
  if (chance(0.4)) c['k\u0000'] = val('long');
  return c;
}

fs.mkdirSync(outdir, { recursive: true });
let total = 0, generatorErrors = 0;
const t0 = Date.now();
for (let f = 0; f < nfiles; f++) {
  const np = 3 + ri(6);
  let text = '';
  // every tenth file: open-scoped policies of one datetime-extension test
  // each, so that every one is evaluated and compared on every request
  if (f % 10 === 9) for (let i = 0; i < 12; i++) text += `permit (principal, action, resource) when { ${dtBool(1 + ri(2))} };\n`;
  else for (let i = 0; i < np; i++) text += policy();
  const ents = entities();
  const check = cedar.checkParsePolicySet({ staticPolicies: text });
  if (check.type !== 'success') {
    // the generator wrote something Cedar does not parse: a generator bug
    generatorErrors++;
    console.error(`generator: policy text rejected by Cedar: ${JSON.stringify(check.errors[0]?.message)}\n${text}`);
    continue;
  }
  const requests = [];
  for (let r = 0; r < nreq; r++) {
    const principal = chance(0.9) ? uid('User', pick([...users, 'ghost'])) : uid('Group', pick(groups));
    const action = uid('Action', pick(actions));
    const resource = chance(0.8) ? uid('Doc', pick(docs)) : uid('Folder', pick(folders));
    const ctx = context();
    const ans = cedar.isAuthorized({ principal, action, resource, context: ctx,
      policies: { staticPolicies: text }, entities: ents });
    if (ans.type !== 'success') {
      generatorErrors++;
      console.error(`generator: reference engine failed: ${JSON.stringify(ans.errors)}`);
      continue;
    }
    requests.push({
      description: `seeded case ${f}.${r}`, principal, action, resource, context: ctx,
      decision: ans.response.decision,
      reason: ans.response.diagnostics.reason,
      errors: ans.response.diagnostics.errors.map((e) => e.policyId),
    });
  }
  fs.writeFileSync(path.join(outdir, `p${f}.cedar`), text);
  fs.writeFileSync(path.join(outdir, `e${f}.json`), JSON.stringify(ents));
  fs.writeFileSync(path.join(outdir, `t${f}.json`),
    JSON.stringify({ policies: `p${f}.cedar`, entities: `e${f}.json`, requests }, null, 1));
  total += requests.length;
}
console.log(`generated ${total} requests in ${nfiles} files (${Date.now() - t0} ms), generator errors: ${generatorErrors}`);
process.exit(generatorErrors ? 1 : 0);
