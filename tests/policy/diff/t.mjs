import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
const cases = ['principal has "title"','User::"ghost" has level','context.rec has x','principal has profile.age','[1,2,].isEmpty()','{a:1,}.a == 1','1 + if true then 1 else 2 == 2','!!!!true','!!!!!true','- - 1 == 1','--1 == 1','-9223372036854775808 == -9223372036854775808','9223372036854775808 == 1','principal["a b"] == 1', 'true && if true then true else false','context has if','{if: 1}.if == 1','principal.if == 1','[1,2] has x', 'ip("1.2.3.4") == ip("1.2.3.4")', 'principal is __cedar::X', 'context.x.contains(1,)', 'Action::"a" in []', 'principal in [principal]', '"a\\*b" like "a\\*b"', '"\\u{48}" == "H"', '"\\x41" == "A"','"\\q" == "q"'];
for (const c of cases) {
  const r = cedar.checkParsePolicySet({staticPolicies:`permit(principal,action,resource) when { ${c} };`});
  console.log(r.type === 'success' ? 'OK  ' : 'FAIL', c, r.type==='success'?'':r.errors[0].message.slice(0,90));
}
