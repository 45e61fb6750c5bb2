// The console in Debian's Chromium, driven by playwright-core (no browser
// download): log in, triage, timeline, person, graph, case, unmasking by two
// people, the evidence hook.  Screenshots go to $SHOTS.
// Env: URL (the daemon), SHOTS (a directory), CU_SOURCE_DIR.
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require(path.join(process.env.CU_SOURCE_DIR, 'web/node_modules/playwright-core'));

const URL = process.env.URL;
const SHOTS = process.env.SHOTS;
let passed = 0, failed = 0;

function check(cond, what) {
  if (cond) { passed++; console.log(`ok   ${what}`); } else { failed++; console.log(`FAIL ${what}`); }
}

// Each person gets a browser of their own with a fresh user-data-dir
// (playwright passes it to chromium as --user-data-dir).
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const opened = [];
async function newBrowser() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custos-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium', args: ARGS, viewport: { width: 1400, height: 900 },
  });
  opened.push({ ctx, dir });
  return ctx;
}

async function login(user, password) {
  const ctx = await newBrowser();
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => { failed++; console.log(`FAIL page error: ${e.message}`); });
  await page.goto(`${URL}/console/`);
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('#who-user');
  check((await page.textContent('#who-user')) === user, `${user} logs in`);
  return { ctx, page };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

(async () => {
  try {
    // the login page, and a wrong password
    {
      const ctx = await newBrowser();
      const page = ctx.pages()[0] || await ctx.newPage();
      await page.goto(`${URL}/console/`);
      await page.waitForSelector('#login-user');
      await page.fill('#login-user', 'alice');
      await page.fill('#login-password', 'not-her-password');
      await page.click('button[type=submit]');
      await page.waitForFunction(() => document.querySelector('.login-error').textContent.length > 0);
      check((await page.textContent('.login-error')).includes('wrong user name or password'), 'a wrong password is refused');
      await shot(page, '01-login');
      await ctx.close();
    }

    const alice = await login('alice', 'alice-password-1');
    const a = alice.page;
    // the alert queue
    await a.waitForSelector('table.alerts tbody tr[data-alert]');
    const nAlerts = await a.locator('table.alerts tbody tr[data-alert]').count();
    check(nAlerts === 9, `the queue shows the 9 alerts (${nAlerts})`);
    const firstOfficer = await a.textContent('table.alerts tbody tr[data-alert] a.officer');
    check(/^OF-[0-9A-F]{10}$/.test(firstOfficer), `officers are pseudonyms (${firstOfficer})`);
    await shot(a, '02-alert-queue');

    // triage: dismiss A2 with a reason, escalate A1
    await a.goto(`${URL}/console/#/alerts/A2`);
    await a.waitForSelector('#btn-dismiss');
    await a.click('#btn-dismiss');
    await a.waitForFunction(() => document.querySelector('.form-msg').textContent.includes('reason'));
    check(true, 'dismissing without a reason is refused');
    await a.fill('#dismiss-reason', 'witness lookup agreed with the case officer');
    await a.click('#btn-dismiss');
    await a.waitForSelector('h1 .badge-dismissed');
    check((await a.textContent('ul.history')).includes('new → dismissed'), 'the dismissal is in the history');
    await a.goto(`${URL}/console/#/alerts/A1`);
    await a.waitForSelector('#btn-escalate');
    await a.click('#btn-escalate');
    await a.waitForSelector('h1 .badge-escalated');
    check(true, 'A1 is escalated');
    await shot(a, '03-alert-detail');
    await a.goto(`${URL}/console/#/alerts?state=dismissed`);
    await a.waitForSelector('table.alerts tbody tr[data-alert="A2"]');
    check(await a.locator('table.alerts tbody tr[data-alert]').count() === 1, 'the dismissed tab holds A2 only');

    // the officer's timeline: charts, and the night hour marked
    const a1officer = firstOfficer;
    await a.goto(`${URL}/console/#/alerts/A1`);
    await a.waitForSelector('a.officer');
    await a.click('section.card a.officer');
    await a.waitForSelector('#chart-hours');
    await a.waitForTimeout(300);
    const summary = await a.textContent('#anomaly-summary');
    check(summary.includes('02:00'), `the night activity is marked (${summary.trim()})`);
    check(await a.locator('canvas').count() === 3, 'three charts are drawn');
    await shot(a, '04-officer-timeline');

    // who looked at P9001
    await a.goto(`${URL}/console/#/persons/P9001`);
    await a.waitForSelector('#access-summary');
    const acc = await a.textContent('#access-summary');
    check(acc.includes('9 accesses') && acc.includes('9 not explained'), `P9001's accesses are listed (${acc.trim()})`);
    await shot(a, '05-person');

    // the network graph with the ring around P9001
    await a.goto(`${URL}/console/#/graph`);
    await a.waitForFunction(() => window.custosGraph && window.custosGraph.nodes > 0);
    const g = await a.evaluate(() => window.custosGraph);
    check(g.rings >= 4, `the ring is highlighted (${g.rings} nodes in rings, ${g.nodes} nodes)`);
    await a.waitForTimeout(300);
    await shot(a, '06-graph');

    // a case from A1, a note, an unmask request
    await a.goto(`${URL}/console/#/alerts/A1`);
    await a.waitForSelector('#case-title');
    await a.fill('#case-title', 'Night look-ups of a protected person');
    await a.click('#btn-new-case');
    await a.waitForSelector('#note-text');
    await a.fill('#note-text', 'Three nights at about 02:00, no case, no call-out logged.');
    await a.click('#btn-note');
    await a.waitForSelector('ul.notes li');
    await a.fill('#unmask-reason', 'pattern of night look-ups needs the officer interviewed');
    await a.click('#btn-unmask');
    await a.waitForSelector('#unmask-list .badge-pending');
    check(true, 'an unmask request is pending');
    // the investigator cannot approve, even by calling the API
    const st = await a.evaluate(async () => {
      const s = await (await fetch('/v1/console/session')).json();
      const r = await fetch('/v1/console/unmask/1/approve', { method: 'POST', headers: { 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json' }, body: '{}' });
      return r.status;
    });
    check(st === 403, `an investigator's approval is refused (${st})`);
    // the export button writes an evidence bundle of the case's events (the
    // shell script verifies it offline with `custos evidence verify`)
    await a.click('#btn-export');
    await a.waitForFunction(() => !document.querySelector('#export-msg').textContent.startsWith('Export'));
    const em = await a.textContent('#export-msg');
    const m = em.match(/^Evidence bundle written: (\S+\.tar)$/);
    check(m !== null, `the export button writes a bundle (${em})`);
    if (m && process.env.EXPORTED) fs.writeFileSync(process.env.EXPORTED, m[1] + '\n');
    await a.reload();
    await a.waitForSelector('#export-msg');
    check((await a.textContent('main')).includes(m ? m[1] : '(none)'), 'the case lists the export');
    await shot(a, '07-case');

    // bob, a supervisor, approves
    const bob = await login('bob', 'bob-password-12');
    const b = bob.page;
    await b.goto(`${URL}/console/#/unmask`);
    await b.waitForSelector('tr[data-request="1"] button.approve');
    await shot(b, '08-unmask-pending');
    await b.click('tr[data-request="1"] button.approve');
    await b.waitForSelector('tr[data-request="1"] .badge-approved');
    check(true, 'the supervisor approves the request');
    // the officer is now shown by id
    await a.goto(`${URL}/console/#/cases/1`);
    await a.reload();
    await a.waitForSelector('#unmask-list .badge-approved');
    const shown = await a.textContent('#unmask-list a.officer');
    check(shown === 'MP10007', `the officer is unmasked after approval (${shown})`);
    await a.goto(`${URL}/console/#/alerts`);
    await a.waitForSelector('table.alerts a.officer.unmasked');
    await shot(a, '09-queue-unmasked');

    // the console audit, seen by the supervisor
    await b.goto(`${URL}/console/#/audit`);
    await b.waitForSelector('table.grid tbody tr');
    const audit = await b.textContent('table.grid tbody');
    check(audit.includes('unmask request 1 approved') && audit.includes('/v1/console/persons/P9001/accesses'),
      'the audit shows the approval and the person look-up');
    await shot(b, '10-audit');

    // the vetting unit's governance page: figures by unit against the CLI's CSV
    {
      const csv = fs.readFileSync(process.env.GOV_CSV, 'utf8');
      const lines = csv.trim().split('\n');
      const head = lines[0].split(',');
      check(head.join(',') === 'unit,workforce,in_date,in_date_pct,expiring_90d,overdue_reviews,overdue_recertifications',
        'the CLI report has the documented header');
      const { page: v } = await login('vera', 'vera-password-1');
      await v.waitForSelector('#gov-report');
      await v.goto(`${URL}/console/#/governance?at=${process.env.GOV_AT}`);
      await v.waitForSelector(`text=The register at ${process.env.GOV_AT}`);
      const shown = await v.$$eval('#gov-report tbody tr', (rows) => rows.map((r) =>
        [r.dataset.unit, ...[...r.querySelectorAll('td[data-col]')].map((td) => td.textContent)]));
      const want = lines.slice(1).map((l) => l.split(','));
      check(shown.length === want.length && want.length > 1, `one row per unit and the total (${shown.length} of ${want.length})`);
      let same = shown.length === want.length;
      for (let i = 0; same && i < want.length; i++)
        same = want[i].every((cell, k) => (k === 3 ? Number(cell).toFixed(1) : cell) === shown[i][k]);
      check(same, 'every figure on the page equals the CLI CSV for the same data and date');
      const total = want[want.length - 1];
      check(total[0] === 'ALL' && Number(total[4]) >= 1 && Number(total[5]) >= 1 && Number(total[2]) < Number(total[1]),
        `the data has expiries, overdue reviews and someone out of date (${total.join(',')})`);
      const cards = await v.textContent('#stat-in-date');
      check(cards.includes(`${total[2]} of ${total[1]}`), `the headline share names ${total[2]} of ${total[1]}`);
      const href = await v.getAttribute('#gov-csv', 'href');
      const got = await v.evaluate(async (u) => { const r = await fetch(u); return { s: r.status, t: r.headers.get('content-type'), b: await r.text() }; }, href);
      check(got.s === 200 && got.t.startsWith('text/csv') && got.b === csv, 'the CSV download equals the CLI CSV');
      // a forged actor from this session is refused; the session's officer acts
      const forged = await v.evaluate(async () => {
        const s = await (await fetch('/v1/console/session')).json();
        const r = await fetch('/v1/console/governance/clearances/reinstate', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
          body: JSON.stringify({ actor: 'MP10003', officer: 'MP10003', reason: 'forged' }) });
        return r.status;
      });
      check(forged === 403, `a body naming another actor is refused (${forged})`);
      await shot(v, '11-governance');
      // an investigator has no such page
      const inv = await a.evaluate(async () => (await fetch('/v1/console/governance/report')).status);
      check(inv === 403, `an investigator may not read the vetting report (${inv})`);
    }

    // logging out ends the session
    await a.click('#logout');
    await a.waitForSelector('#login-user');
    const after = await a.evaluate(async () => (await fetch('/v1/console/alerts')).status);
    check(after === 401, `after logout the API answers 401 (${after})`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${e.stack || e}`);
  } finally {
    for (const o of opened) {
      await o.ctx.close().catch(() => {});
      fs.rmSync(o.dir, { recursive: true, force: true });
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
