// The custos police policy pack, checked with the reference Cedar engine.
//
// 1. Every policy parses, has a unique @id and a @reason; emergency-tier
//    policies (@tier("emergency")) are permits that require break-glass.
// 2. The pack validates against policies/police.cedarschema (strict mode).
// 3. A table of requests over a small fixture force gets the decisions a
//    force's information security officer expects, with the deciding
//    policies named.  The gateway's own tests run the same scenarios through
//    custos over HTTP.
// Prints "N passed, N failed" and exits non-zero on any failure.
'use strict';
const { cedar, loadPack } = require('./pack.js');

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) passed++;
  else { failed++; console.log('FAIL: ' + what); }
}

const pack = loadPack();
check(pack.ids.length >= 90, `pack has ${pack.ids.length} policies, want about 100`);

// ------------------------------------------------------------ annotations
for (const id of pack.ids) {
  const ann = pack.annotations[id];
  const text = pack.policies[id];
  if (ann.tier !== undefined) {
    check(ann.tier === 'emergency', `${id}: unknown tier ${ann.tier}`);
    check(/^\s*(@[^\n]*\n\s*)*permit/.test(text), `${id}: emergency policy must be a permit`);
    check(/when\s*\{\s*context\.break_glass\s*&&/.test(text), `${id}: emergency permit must start with context.break_glass`);
  } else if (/^\s*(@[^\n]*\n\s*)*permit/.test(text) && !/action == Action::"logout"/.test(text)) {
    check(/when\s*\{\s*!context\.break_glass/.test(text), `${id}: normal-tier permit must start with !context.break_glass`);
  }
}

// ------------------------------------------------------------- validation
const v = cedar.validate({ schema: pack.schema, policies: { staticPolicies: pack.policies },
                           validationSettings: { mode: 'strict' } });
check(v.type === 'success', 'validator ran: ' + JSON.stringify(v.errors || ''));
if (v.type === 'success') {
  for (const e of v.validationErrors) check(false, `validation error in ${e.policyId}: ${e.error.message}`);
  check(v.validationErrors.length === 0, 'pack validates against the schema');
  for (const w of v.validationWarnings) console.log(`warning ${w.policyId}: ${w.error.message}`);
}

// ---------------------------------------------------------------- fixture
const DAY = 86400;
const NOW = Date.UTC(2024, 5, 1, 12, 0, 0) / 1000;   // 2024-06-01T12:00:00Z
const NEVER = 253402300799;
const uid = (type, id) => ({ __entity: { type, id } });

const entities = [];
function person(id, flags = []) {
  entities.push({ uid: { type: 'Person', id }, parents: [],
                  attrs: { area: 'CW', flags, protected: flags.length > 0 } });
}
function officer(id, role, unit, vetting, o = {}) {
  entities.push({ uid: { type: 'Officer', id }, parents: [], attrs: {
    role, unit, area: o.area || 'CW', vetting,
    vetting_granted: o.granted ?? NOW - 3 * 365 * DAY,
    vetting_expires: o.expires ?? NOW + 3 * 365 * DAY,
    start: o.start ?? NOW - 5 * 365 * DAY, end: o.end ?? NEVER,
    caveats: o.caveats || [], relations: (o.relations || []).map((p) => uid('Person', p)),
  } });
}
function kase(id, officers, subjects, o = {}) {
  entities.push({ uid: { type: 'Case', id }, parents: [], attrs: {
    area: 'CW', opened: o.opened ?? NOW - 30 * DAY, closed: o.closed ?? NEVER,
    officers: officers.map((x) => uid('Officer', x)), subjects: subjects.map((x) => uid('Person', x)),
  } });
}
function record(id, system, type, classification, subjects, cases, o = {}) {
  const prot = subjects.some((s) => ['PPROT'].includes(s));
  entities.push({ uid: { type: 'Record', id },
                  parents: cases.map((c) => ({ type: 'Case', id: c })).concat([{ type: 'System', id: system }]), attrs: {
    type, system, area: o.area || 'CW', classification, caveats: o.caveats || [],
    subjects: subjects.map((s) => uid('Person', s)), protected: prot, live: o.live ?? true,
  } });
}

person('P1'); person('P2'); person('PPROT', ['protected']); person('PEX');
officer('PC1', 'PC', 'TP-CW-RESP', 'RV', { relations: ['PEX'] });
officer('PC2', 'PC', 'TP-CW-RESP', 'RV');
officer('DC1', 'DC', 'CID-CW', 'MV');
officer('AN1', 'analyst', 'INT-HQ', 'NPPV3', { area: 'HQ' });
officer('ST1', 'staff', 'LIC-HQ', 'NPPV2', { area: 'HQ' });
officer('ST2', 'staff', 'HR-HQ', 'NPPV1', { area: 'HQ' });
officer('CT1', 'DS', 'CTP-SE', 'SC', { caveats: ['UK-EYES-ONLY'] });
officer('CT2', 'DI', 'CTP-SE', 'DV', { caveats: ['UK-EYES-ONLY', 'OP-TALISMAN'] });
officer('CT3', 'DC', 'CTP-SE', 'SC');                                // no caveats
officer('EXP', 'PC', 'TP-CW-RESP', 'RV', { expires: NOW + 60 });     // expires in a minute
officer('LEFT', 'PC', 'TP-CW-RESP', 'RV', { end: NOW - DAY });
officer('NOVET', 'PC', 'TP-CW-RESP', 'NONE', { granted: 0, expires: 0 });
officer('CTC1', 'PC', 'TP-CW-RESP', 'CTC');
officer('DDO1', 'DDO', 'CUST-CW', 'RV');
officer('SPC1', 'SPC', 'TP-CW-RESP', 'RV');
officer('PSD1', 'DS', 'PSD-HQ', 'MV');
officer('DBS1', 'staff', 'DBS-HQ', 'NPPV2', { area: 'HQ' });
officer('TRN1', 'PC', 'TRAIN-HQ', 'RV');

kase('C1', ['PC1', 'DC1', 'AN1', 'EXP', 'LEFT', 'NOVET', 'CTC1', 'SPC1', 'DDO1', 'ST1', 'ST2', 'DBS1'], ['P1']);
kase('CP', ['PC1'], ['PPROT']);
kase('CCLOSED', ['PC1'], ['P1'], { closed: NOW - DAY });
kase('CCT', ['CT1', 'CT2', 'CT3'], ['P2']);
kase('CPSD', ['PSD1'], ['P1']);
kase('CFUT', ['PC1'], ['P1'], { opened: NOW + DAY });

record('R1', 'PNC', 'nominal', 'OFFICIAL-SENSITIVE', ['P1'], ['C1', 'CCLOSED', 'CPSD', 'CFUT']);
record('R2', 'RMS', 'crime', 'OFFICIAL', ['P1'], ['C1']);
record('R3', 'RMS', 'crime', 'OFFICIAL', ['P2'], []);                 // linked to no case
record('RP', 'PNC', 'nominal', 'OFFICIAL-SENSITIVE', ['PPROT'], ['CP', 'C1']);
record('RS', 'INTEL', 'intelligence', 'SECRET', ['P2'], ['CCT', 'C1'], { caveats: ['UK-EYES-ONLY'] });
record('RTS', 'INTEL', 'intelligence', 'TOP-SECRET', ['P2'], ['CCT'], { caveats: ['UK-EYES-ONLY', 'OP-TALISMAN'] });
record('REX', 'RMS', 'nominal', 'OFFICIAL', ['PEX'], ['C1']);
record('RC', 'CUSTODY', 'custody', 'OFFICIAL-SENSITIVE', ['P1'], ['C1']);
record('RT', 'TRAIN', 'nominal', 'OFFICIAL', ['P1'], [], { live: false });
record('RH', 'HOLMES', 'crime', 'OFFICIAL-SENSITIVE', ['P1'], ['C1']);
record('RX', 'STORM2', 'incident', 'OFFICIAL', ['P1'], ['C1']);        // a system the pack does not name
record('RU', 'RMS', 'crime', 'RESTRICTED', ['P1'], ['C1']);           // pre-2014 marking
for (const s of ['PNC', 'PND', 'RMS', 'INTEL', 'TRAIN']) entities.push({ uid: { type: 'System', id: s }, parents: [], attrs: {} });

// ----------------------------------------------------------------- requests
// [name, officer, action, resource ('sys:PNC' for a system), purpose, case|null,
//  break_glass, time offset, expected decision, policies that must decide]
const T = [
  ['allow with a case link', 'PC1', 'view', 'R1', 'investigation', 'C1', false, 0, 'allow', ['pnc-view-sworn']],
  ['deny without a case', 'PC1', 'view', 'R1', 'investigation', null, false, 0, 'deny', ['need-to-know']],
  ['deny: case does not link record', 'PC1', 'view', 'R3', 'investigation', 'C1', false, 0, 'deny', ['need-to-know', 'case-not-linked']],
  ['deny: not assigned to the case', 'PC2', 'view', 'R1', 'investigation', 'C1', false, 0, 'deny', ['need-to-know', 'case-not-assigned']],
  ['deny: case closed', 'PC1', 'view', 'R1', 'investigation', 'CCLOSED', false, 0, 'deny', ['case-closed', 'need-to-know']],
  ['deny: case not yet open', 'PC1', 'view', 'R1', 'investigation', 'CFUT', false, 0, 'deny', ['case-not-yet-open']],
  ['protected person with a case naming them', 'PC1', 'view', 'RP', 'investigation', 'CP', false, 0, 'allow', ['pnc-view-sworn']],
  ['protected person, case links record but does not name them', 'PC1', 'view', 'RP', 'investigation', 'C1', false, 0, 'deny', ['protected-person']],
  ['protected person, no case, break-glass', 'PC2', 'view', 'RP', 'investigation', null, true, 0, 'allow', ['bg-view-operational']],
  ['break-glass needs an emergency permit (normal tier silent)', 'PC2', 'view', 'R1', 'investigation', null, true, 0, 'allow', ['bg-view-operational']],
  ['normal tier does not answer break-glass', 'AN1', 'view', 'R1', 'intelligence', null, true, 0, 'deny', []],
  ['break-glass never prints', 'PC2', 'print', 'R1', 'investigation', null, true, 0, 'deny', ['break-glass-read-only']],
  ['break-glass keeps vetting rules', 'NOVET', 'view', 'R1', 'investigation', null, true, 0, 'deny', ['vetting-none']],
  ['vetting valid one second before expiry', 'EXP', 'view', 'R1', 'investigation', 'C1', false, 59, 'allow', ['pnc-view-sworn']],
  ['vetting expired at the minute it passes', 'EXP', 'view', 'R1', 'investigation', 'C1', false, 60, 'deny', ['vetting-expired']],
  ['no vetting', 'NOVET', 'view', 'R2', 'investigation', 'C1', false, 0, 'deny', ['vetting-none']],
  ['leaver', 'LEFT', 'view', 'R2', 'investigation', 'C1', false, 0, 'deny', ['leaver']],
  ['leaver may still log out', 'LEFT', 'logout', 'sys:PNC', 'other', null, false, 0, 'allow', ['logout']],
  ['CTC does not cover OFFICIAL-SENSITIVE', 'CTC1', 'view', 'R1', 'investigation', 'C1', false, 0, 'deny', ['classification-official-sensitive']],
  ['CTC covers OFFICIAL', 'CTC1', 'view', 'R2', 'investigation', 'C1', false, 0, 'allow', ['rms-view-sworn']],
  ['NPPV1 covers OFFICIAL only', 'ST2', 'view', 'R1', 'licensing', 'C1', false, 0, 'deny', ['classification-official-sensitive']],
  ['RV does not cover SECRET', 'PC1', 'view', 'RS', 'investigation', 'C1', false, 0, 'deny', ['classification-secret']],
  ['MV covers SECRET but not its caveat', 'DC1', 'view', 'RS', 'investigation', 'C1', false, 0, 'deny', ['caveat-not-held']],
  ['SC with caveat reads SECRET', 'CT1', 'view', 'RS', 'intelligence', 'CCT', false, 0, 'allow', ['ctp-view']],
  ['SC without caveat', 'CT3', 'view', 'RS', 'intelligence', 'CCT', false, 0, 'deny', ['caveat-not-held']],
  ['SC does not cover TOP-SECRET', 'CT1', 'view', 'RTS', 'intelligence', 'CCT', false, 0, 'deny', ['classification-top-secret', 'caveat-not-held']],
  ['DV reads TOP-SECRET', 'CT2', 'view', 'RTS', 'intelligence', 'CCT', false, 0, 'allow', ['ctp-view']],
  ['TOP-SECRET never printed', 'CT2', 'print', 'RTS', 'intelligence', 'CCT', false, 0, 'deny', ['no-print-top-secret']],
  ['SECRET never exported', 'CT1', 'export', 'RS', 'intelligence', 'CCT', false, 0, 'deny', ['no-bulk-export-secret']],
  ['unknown classification withheld', 'PC1', 'view', 'RU', 'investigation', 'C1', false, 0, 'deny', ['classification-unknown']],
  ['declared relation', 'PC1', 'view', 'REX', 'investigation', 'C1', false, 0, 'deny', ['declared-relation']],
  ['declared relation even with break-glass', 'PC1', 'view', 'REX', 'investigation', null, true, 0, 'deny', ['declared-relation']],
  ['training purpose on live record', 'PC1', 'view', 'R2', 'training', 'C1', false, 0, 'deny', ['training-on-live-data']],
  ['test purpose on live record', 'PC1', 'view', 'R2', 'test', 'C1', false, 0, 'deny', ['training-on-live-data']],
  ['training search on a live system', 'TRN1', 'search', 'sys:PNC', 'training', null, false, 0, 'deny', ['training-search-live-system']],
  ['training search on the training system', 'TRN1', 'search', 'sys:TRAIN', 'training', null, false, 0, 'allow', ['train-search']],
  ['training data for training, no case needed', 'TRN1', 'view', 'RT', 'training', null, false, 0, 'allow', ['train-use']],
  ['training data for investigation', 'PC1', 'view', 'RT', 'investigation', 'C1', false, 0, 'deny', ['training-data-not-operational']],
  ['unknown purpose', 'PC1', 'view', 'R1', 'curiosity', 'C1', false, 0, 'deny', ['purpose-unknown']],
  ['purpose other on OFFICIAL-SENSITIVE', 'PC1', 'view', 'R1', 'other', 'C1', false, 0, 'deny', ['purpose-other-sensitive']],
  ['PNC search by a PC', 'PC2', 'search', 'sys:PNC', 'investigation', null, false, 0, 'allow', ['pnc-search-sworn']],
  ['PND search by a PC', 'PC2', 'search', 'sys:PND', 'investigation', null, false, 0, 'deny', []],
  ['PND search by an analyst', 'AN1', 'search', 'sys:PND', 'intelligence', null, false, 0, 'allow', ['pnd-search-intel']],
  ['analyst views PNC for intelligence', 'AN1', 'view', 'R1', 'intelligence', 'C1', false, 0, 'allow', ['pnc-view-analyst']],
  ['staff (licensing) views PNC for licensing', 'ST1', 'view', 'R1', 'licensing', 'C1', false, 0, 'allow', ['pnc-view-staff']],
  ['staff may not update PNC', 'ST1', 'update', 'R1', 'licensing', 'C1', false, 0, 'deny', []],
  ['PC updates an RMS crime', 'PC1', 'update', 'R2', 'investigation', 'C1', false, 0, 'allow', ['rms-update-sworn']],
  ['PC may not export', 'PC1', 'export', 'R2', 'investigation', 'C1', false, 0, 'deny', []],
  ['special constable may not export', 'SPC1', 'export', 'R2', 'investigation', 'C1', false, 0, 'deny', ['specials-no-export']],
  ['DBS discloses PNC for vetting', 'DBS1', 'disclose', 'R1', 'vetting', 'C1', false, 0, 'allow', ['pnc-disclose-dbs']],
  ['protected person never disclosed', 'DBS1', 'disclose', 'RP', 'vetting', 'C1', false, 0, 'deny', ['protected-no-disclosure']],
  ['custody: DDO views custody record', 'DDO1', 'view', 'RC', 'custody', 'C1', false, 0, 'allow', ['custody-view']],
  ['custody: DDO updates custody record', 'DDO1', 'update', 'RC', 'custody', 'C1', false, 0, 'allow', ['custody-update']],
  ['HOLMES is for major investigation teams', 'PC1', 'view', 'RH', 'investigation', 'C1', false, 0, 'deny', []],
  ['a system the pack does not name', 'PC1', 'view', 'RX', 'investigation', 'C1', false, 0, 'allow', ['other-system-view']],
  ['PSD views for a misconduct case', 'PSD1', 'view', 'R1', 'investigation', 'CPSD', false, 0, 'allow', ['psd-view']],
  ['PND is read-only', 'AN1', 'update', 'R1', 'intelligence', 'C1', false, 0, 'deny', []],
  ['login', 'PC2', 'login', 'sys:PNC', 'other', null, false, 0, 'allow', ['login']],
  ['login after vetting expiry', 'EXP', 'login', 'sys:PNC', 'other', null, false, 120, 'deny', ['vetting-expired']],
];

const policies = { staticPolicies: pack.policies };
for (const [name, who, act, res, purpose, kaseId, bg, dt, want, wantIds] of T) {
  const context = { purpose, now: NOW + dt, break_glass: bg };
  if (kaseId) context.case = uid('Case', kaseId);
  const resource = res.startsWith('sys:') ? { type: 'System', id: res.slice(4) } : { type: 'Record', id: res };
  const a = cedar.isAuthorized({
    principal: { type: 'Officer', id: who }, action: { type: 'Action', id: act }, resource,
    context, schema: pack.schema, validateRequest: true, policies, entities,
  });
  if (a.type !== 'success') { check(false, `${name}: ${JSON.stringify(a.errors)}`); continue; }
  const r = a.response;
  const got = r.diagnostics.reason;
  check(r.decision === want, `${name}: decision ${r.decision}, want ${want} (policies ${got.join(',')})`);
  check(r.diagnostics.errors.length === 0, `${name}: evaluation errors ${JSON.stringify(r.diagnostics.errors)}`);
  for (const id of wantIds) check(got.includes(id), `${name}: ${id} not among deciding policies [${got.join(', ')}]`);
  if (want === 'deny' && wantIds.length === 0) check(got.length === 0, `${name}: want default deny, got [${got.join(', ')}]`);
  // A break-glass allow must come from the emergency tier only.
  if (bg && r.decision === 'allow')
    check(got.every((id) => pack.annotations[id].tier === 'emergency'), `${name}: break-glass allowed by ${got.join(',')}`);
}

console.log(`cedar ${cedar.getCedarVersion()}; ${pack.ids.length} policies; ${T.length} requests`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
