// Load the custos police policy pack for the reference Cedar engine
// (@cedar-policy/cedar-wasm): every policies/*.cedar file in name order, each
// policy keyed by its @id annotation so that the engine's diagnostics name
// policies the way custos does.  Shared by check_pack.js and the benchmark.
'use strict';
const fs = require('fs');
const path = require('path');
const cedar = require('@cedar-policy/cedar-wasm/nodejs');

const PACK_DIR = path.resolve(__dirname, '..', '..', '..', 'policies');

function fail(msg, detail) {
  const e = new Error(msg + (detail ? ': ' + JSON.stringify(detail, null, 1) : ''));
  throw e;
}

// { ids: [..], policies: {id: text}, annotations: {id: {..}}, schema: text }
function loadPack(dir = PACK_DIR) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cedar')).sort();
  const policies = {};
  const annotations = {};
  const ids = [];
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const parts = cedar.policySetTextToParts(text);
    if (parts.type !== 'success') fail(`${f}: does not parse`, parts.errors);
    for (const p of parts.policies) {
      const j = cedar.policyToJson(p);
      if (j.type !== 'success') fail(`${f}: policy does not convert`, j.errors);
      const ann = j.json.annotations || {};
      const id = ann.id;
      if (!id) fail(`${f}: a policy has no @id`, p.slice(0, 200));
      if (!ann.reason) fail(`${f}: policy ${id} has no @reason`);
      if (policies[id]) fail(`${f}: duplicate @id ${id}`);
      policies[id] = p;
      annotations[id] = ann;
      ids.push(id);
    }
  }
  const schema = fs.readFileSync(path.join(dir, 'police.cedarschema'), 'utf8');
  return { ids, policies, annotations, schema };
}

module.exports = { cedar, loadPack, PACK_DIR };
