// alerts/osbackup.rules.yml through Prometheus' own promtool (Debian package `prometheus`,
// installed by ./dev setup): the rules load, and their unit tests (osbackup.rules.test.yml) pass.
// Under CI a missing promtool is a failure; on a developer machine without it these two tests
// are skipped with the reason. The metric names the rules use are checked against what the
// worker exports either way.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { parse } from 'yaml';
import { METRICS } from '../../core/metrics/metrics.js';

const RULES = 'alerts/osbackup.rules.yml';
const TESTS = 'alerts/osbackup.rules.test.yml';

const promtool = await execa('promtool', ['--version'], { reject: false });
const have = promtool.exitCode === 0;
const MISSING = 'promtool is not installed (Debian package prometheus; ./dev setup installs it)';
// under CI the tests run, and fail on the missing tool
const withPromtool = have || process.env.CI === 'true' ? test : test.skip;
if (!have && process.env.CI !== 'true') console.warn(`${MISSING}: the promtool checks are skipped`);
const needPromtool = () => {
  if (!have) throw new Error(`${MISSING}: CI must run the alert rule tests`);
};

type Rule = { alert: string; expr: string };
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

withPromtool('promtool check rules: the file loads', async () => {
  needPromtool();
  const r = await execa('promtool', ['check', 'rules', RULES], { reject: false, all: true });
  expect(r.all).toContain(`SUCCESS: ${rules.length} rules found`);
  expect(r.exitCode).toBe(0);
});

withPromtool('promtool test rules: every alert fires and stays quiet where its tests say', async () => {
  needPromtool();
  const r = await execa('promtool', ['test', 'rules', TESTS], { reject: false, all: true });
  expect(r.all).toContain('SUCCESS');
  expect(r.exitCode).toBe(0);
});

test('every alert has a test, and the rules only use metrics the worker exports', () => {
  const tested = new Set(
    (
      parse(readFileSync(TESTS, 'utf8')) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length).map((a) => a.alertname)),
  );
  expect(rules.map((r) => r.alert).filter((a) => !tested.has(a))).toEqual([]);
  const used = new Set(rules.flatMap((r) => r.expr.match(/\bosbackup_[a-z_]+/g) ?? []));
  expect([...used].filter((m) => !(m in METRICS))).toEqual([]);
  expect(used.size).toBeGreaterThan(10);
});
