// `osbackup schedules apply|list|pause|unpause|trigger|delete`: the config's schedules as
// Temporal Schedules. The plan is made by client/lib/schedules.ts; this file talks to Temporal.
import type { Command } from 'commander';
import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import type { Config } from '../config/schema.js';
import { AesGcmPayloadCodec, workflowUiUrl } from '../config/temporal.js';
import { CliError, connect, EXIT } from './connect.js';
import type { CliContext } from './control-plane.js';
import {
  clockChangeNotes,
  describeCalendar,
  desiredSchedules,
  driftOf,
  ENTRY_IDS,
  entryByName,
  entryConfig,
  existingFrom,
  planSchedules,
  SCHEDULE_ID_PREFIX,
  scheduleId,
  scheduleOptions,
  staleKeys,
  type DesiredSchedule,
  type ExistingSchedule,
  type SchedulePlan,
} from './lib/schedules.js';

type G = { json?: boolean; config?: string; cloud?: string };

export function scheduleUiUrl(config: Config, id: string): string {
  return `${config.temporal.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.temporal.namespace)}/schedules/${encodeURIComponent(id)}`;
}

async function describeOrNull(client: Client, id: string): Promise<ScheduleDescription | null> {
  try {
    return await client.schedule.getHandle(id).describe();
  } catch (e) {
    if (e instanceof ScheduleNotFoundError) return null;
    throw e;
  }
}

/**
 * Every schedule that matters to a plan: each desired id is described directly (listing is
 * eventually consistent and could miss one created a moment ago), plus every `osbackup-…`
 * schedule the list shows, described too for its memo.
 */
async function existingSchedules(client: Client, ids: string[]): Promise<Map<string, ScheduleDescription>> {
  const found = new Map<string, ScheduleDescription>();
  for (const id of ids) {
    const d = await describeOrNull(client, id);
    if (d) found.set(id, d);
  }
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith(SCHEDULE_ID_PREFIX) || found.has(s.scheduleId)) continue;
    const d = await describeOrNull(client, s.scheduleId);
    if (d) found.set(s.scheduleId, d);
  }
  return found;
}

function scopeOf(ctx: CliContext<G>, config: Config, g: G): string[] {
  return g.cloud ? [ctx.pickCloud(config, g.cloud)] : Object.keys(config.clouds);
}

/** A server without osbackup's search attributes refuses every schedule: say how to add them. */
function explainSearchAttributes(e: unknown): never {
  // the SDK's message is "Failed to create schedule"; the server's reason is the cause
  const m = [e, (e as { cause?: unknown })?.cause].map((x) => (x instanceof Error ? x.message : '')).join(': ');
  if (/no mapping defined for search attribute (Cloud|Tier)\b/.test(m)) {
    throw new CliError(
      `${m}. Fix: register osbackup's search attributes on the namespace: temporal operator search-attribute create --name Cloud --type Keyword (and Tier, Component, Phase)`,
      EXIT.failed,
    );
  }
  throw e;
}

export interface ApplyResult {
  dryRun: boolean;
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
  conflicts: { scheduleId: string; reason: string }[];
  otherClouds: string[];
  /** Updated although their digest matched: the definition on the server had been changed by hand. */
  drift: { scheduleId: string; fields: string[] }[];
  /** Created again because their stored payloads were under an older payload key (or in clear). */
  rekeyed: string[];
  /** For each rekeyed schedule: the keys its payloads were under. */
  staleKeys: { scheduleId: string; keyIds: string[] }[];
  notes: string[];
}

/** The id new payloads are encrypted under; null without a payload key. */
function currentKeyId(client: Client): string | null {
  const codec = client.options.loadedDataConverter.payloadCodecs.find((c) => c instanceof AesGcmPayloadCodec);
  return codec instanceof AesGcmPayloadCodec ? codec.keyId : null;
}

async function apply(
  client: Client,
  config: Config,
  scope: string[],
  opts: { dryRun: boolean; force: boolean },
): Promise<{ plan: SchedulePlan; result: ApplyResult }> {
  const { desired, notes: skipped } = desiredSchedules(config, scope);
  const notes = [...skipped, ...clockChangeNotes(desired, Date.now())];
  const found = await existingSchedules(
    client,
    desired.map((d) => d.scheduleId),
  );
  const existing: ExistingSchedule[] = [...found.values()].map(existingFrom);
  const plan = planSchedules(desired, existing, scope, opts.force, currentKeyId(client));
  if (!opts.dryRun) {
    for (const d of plan.create) await client.schedule.create(scheduleOptions(d)).catch(explainSearchAttributes);
    for (const d of plan.rekey) {
      // Temporal cannot update a schedule's memo: delete and create it again, under the current
      // key, keeping an operator's pause. Runs it started go on; only a run due in the moment
      // between the two calls would be skipped (a new schedule does not catch up on earlier times).
      const prev = found.get(d.scheduleId)!;
      await client.schedule.getHandle(d.scheduleId).delete();
      await client.schedule
        .create({
          ...scheduleOptions(d),
          state: { paused: prev.state.paused, note: prev.state.note, remainingActions: prev.state.remainingActions },
        })
        .catch((e: unknown) => {
          throw new CliError(
            `${d.scheduleId} was deleted to be created again under the current payload key, and creating it failed: ${(e as Error).message}. Fix: run \`osbackup schedules apply\` again (it creates the missing schedule${prev.state.paused ? '; it was paused: pause it again' : ''})`,
            EXIT.failed,
          );
        });
    }
    for (const d of plan.update) {
      const { spec, action, policies, typedSearchAttributes } = scheduleOptions(d);
      // an operator's pause (and its reason) survives a config change
      await client.schedule
        .getHandle(d.scheduleId)
        .update((prev) => ({
          spec,
          action,
          policies,
          typedSearchAttributes,
          state: { paused: prev.state.paused, note: prev.state.note, remainingActions: prev.state.remainingActions },
        }))
        .catch(explainSearchAttributes);
    }
    for (const e of plan.delete) await client.schedule.getHandle(e.scheduleId).delete();
  }
  const ids = (xs: { scheduleId: string }[]) => xs.map((x) => x.scheduleId);
  return {
    plan,
    result: {
      dryRun: opts.dryRun,
      created: ids(plan.create),
      updated: ids(plan.update),
      deleted: ids(plan.delete),
      unchanged: ids(plan.unchanged),
      conflicts: plan.conflicts,
      otherClouds: ids(plan.otherClouds),
      drift: plan.drift,
      rekeyed: ids(plan.rekey),
      staleKeys: plan.staleKeys,
      notes,
    },
  };
}

function applyText(r: ApplyResult, plan: SchedulePlan, config: Config): string {
  const verb = (done: string, would: string) => (r.dryRun ? would : done);
  const line = (d: DesiredSchedule) =>
    `${d.scheduleId}  ${describeCalendar(d.calendar)} ${d.timeZone} → ${d.workflowType}(${JSON.stringify(d.args[0])})`;
  const lines = [
    ...plan.create.map((d) => `${verb('created  ', 'create   ')} ${line(d)}`),
    ...plan.update.map((d) => {
      const drift = plan.drift.find((x) => x.scheduleId === d.scheduleId);
      return `${verb('updated  ', 'update   ')} ${line(d)}${drift ? `  (changed on the server by hand: ${drift.fields.join(', ')})` : ''}`;
    }),
    ...plan.rekey.map((d) => {
      const from = (plan.staleKeys.find((x) => x.scheduleId === d.scheduleId)?.keyIds ?? [])
        .map((k) => (k === 'in clear' ? k : `under key ${k}`))
        .join(' and ');
      return `${verb('recreated', 'recreate ')} ${line(d)}  (its stored payloads were ${from}: ${verb('re-encrypted', 'to be re-encrypted')} under the current key)`;
    }),
    ...plan.delete.map(
      (e) =>
        `${verb('deleted  ', 'delete   ')} ${e.scheduleId}  (cloud ${e.managed!.cloud}, entry ${ENTRY_IDS[e.managed!.entry]}: no longer in the config)`,
    ),
    ...plan.unchanged.map((d) => `unchanged  ${line(d)}`),
    ...r.conflicts.map((c) => `CONFLICT   ${c.scheduleId} ${c.reason}`),
    ...plan.otherClouds.map(
      (e) =>
        `left alone ${e.scheduleId}  (osbackup's, cloud ${e.managed!.cloud} is not in scope; \`osbackup schedules delete ${e.scheduleId}\` removes it)`,
    ),
    ...r.notes.map((n) => `note       ${n}`),
  ];
  const sum = `${r.dryRun ? 'dry run, nothing changed: ' : ''}${r.created.length} ${verb('created', 'to create')}, ${r.updated.length} ${verb('updated', 'to update')}, ${r.deleted.length} ${verb('deleted', 'to delete')}, ${r.rekeyed.length ? `${r.rekeyed.length} ${verb('re-encrypted', 'to re-encrypt')}, ` : ''}${r.unchanged.length} unchanged${r.conflicts.length ? `, ${r.conflicts.length} CONFLICTS` : ''}`;
  return `${lines.join('\n')}\n${sum}\n  ${config.temporal.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.temporal.namespace)}/schedules\n`;
}

/** `daily`, `control-plane` (with --cloud or the only cloud) or a full schedule id → the id, which must be osbackup's. */
async function resolveManaged(
  ctx: CliContext<G>,
  config: Config,
  g: G,
  client: Client,
  target: string,
): Promise<{ id: string; description: ScheduleDescription; existing: ExistingSchedule }> {
  const entry = entryByName(target);
  const id = entry ? scheduleId(ctx.pickCloud(config, g.cloud), entry) : target;
  if (!entry && !id.startsWith(SCHEDULE_ID_PREFIX))
    throw new CliError(
      `"${target}" is neither an entry (${Object.values(ENTRY_IDS).join(', ')}) nor an osbackup schedule id (${SCHEDULE_ID_PREFIX}<cloud>-<entry>)`,
      EXIT.usage,
    );
  const description = await describeOrNull(client, id);
  if (!description)
    throw new CliError(
      `no schedule ${id} on ${config.temporal.address} (namespace ${config.temporal.namespace}). Fix: \`osbackup schedules apply\` creates the configured ones; \`osbackup schedules list\` shows what exists`,
      EXIT.usage,
    );
  const existing = existingFrom(description);
  if (!existing.managed)
    throw new CliError(
      `schedule ${id} was not created by osbackup (no osbackup memo): osbackup leaves it alone`,
      EXIT.usage,
    );
  return { id, description, existing };
}

function actionWorkflowIds(d: ScheduleDescription): string[] {
  return d.info.recentActions.map((a) => a.action.workflow.workflowId);
}

export function registerScheduleCommands(program: Command, ctx: CliContext<G>): void {
  const schedules = program
    .command('schedules')
    .description(
      'Temporal Schedules for the daily / weekly / monthly tiers, retention and verification (from the config)',
    );

  schedules
    .command('apply')
    .description(
      "create missing schedules, update changed ones, delete osbackup's schedules no longer in the config (never others); idempotent",
    )
    .option('--cloud <name>', 'only this cloud (default: every cloud in the config)')
    .option('--dry-run', 'show what would change, change nothing', false)
    .option(
      '--force',
      "update every schedule even when its definition's digest matches (after a hand edit in the UI)",
      false,
    )
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G & { dryRun: boolean; force: boolean }>();
      const config = ctx.load(g);
      const client = await connect(config);
      const { plan, result } = await apply(client, config, scopeOf(ctx, config, g), {
        dryRun: g.dryRun,
        force: g.force,
      });
      ctx.out(g, result, applyText(result, plan, config));
      if (result.conflicts.length) process.exitCode = EXIT.failed;
    });

  schedules
    .command('list')
    .description("osbackup's schedules: calendar, time zone, state, next and last run")
    .option('--cloud <name>', 'only this cloud')
    .action(async function (this: Command) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const scope = g.cloud ? [ctx.pickCloud(config, g.cloud)] : undefined;
      const client = await connect(config);
      const inConfig = scope ?? Object.keys(config.clouds);
      const { desired } = desiredSchedules(config, inConfig);
      const found = await existingSchedules(
        client,
        desired.map((d) => d.scheduleId),
      );
      const rows = [];
      const keyId = currentKeyId(client);
      for (const [id, d] of [...found.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const e = existingFrom(d);
        if (!e.managed || (scope && !scope.includes(e.managed.cloud))) continue;
        const want = desired.find((x) => x.scheduleId === id);
        const last = d.info.recentActions.at(-1);
        rows.push({
          scheduleId: id,
          cloud: e.managed.cloud,
          entry: ENTRY_IDS[e.managed.entry],
          workflowType: d.action.workflowType,
          timeZone: d.spec.timezone ?? 'UTC',
          calendar:
            want && want.digest === e.digest && !(e.actual && driftOf(want, e.actual).length)
              ? describeCalendar(want.calendar)
              : '(differs from the config: run apply)',
          overlap: d.policies.overlap,
          catchupWindowMs: d.policies.catchupWindow,
          paused: d.state.paused,
          note: d.state.note,
          nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
          lastAction: last
            ? { scheduledAt: last.scheduledAt.toISOString(), workflowId: last.action.workflow.workflowId }
            : null,
          running: d.info.runningActions.map((a) => a.workflow.workflowId),
          staleKeys: staleKeys(e, keyId),
          inConfig: !!want,
          ui: scheduleUiUrl(config, id),
        });
      }
      const missing = desired.filter((d) => !found.has(d.scheduleId)).map((d) => d.scheduleId);
      const text =
        rows
          .map(
            (r) =>
              `${r.scheduleId}  ${r.paused ? 'PAUSED' : 'active'}  ${r.calendar} ${r.timeZone}  next ${r.nextActionTimes[0] ?? '-'}  last ${r.lastAction ? `${r.lastAction.scheduledAt} (${r.lastAction.workflowId})` : '-'}${r.running.length ? `  running ${r.running.join(', ')}` : ''}${r.note ? `\n    note: ${r.note}` : ''}${r.staleKeys.length ? `\n    stored payloads ${r.staleKeys.map((k) => (k === 'in clear' ? k : `under key ${k}`)).join(' and ')}, not the current key: \`osbackup schedules apply\` re-encrypts them` : ''}${r.inConfig ? '' : '\n    not in the config any more: the next apply deletes it'}`,
          )
          .join('\n') +
        (rows.length ? '\n' : 'no osbackup schedules\n') +
        (missing.length ? `not created yet (run \`osbackup schedules apply\`): ${missing.join(', ')}\n` : '');
      ctx.out(g, { schedules: rows, notCreated: missing }, text);
    });

  for (const [name, pause] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    schedules
      .command(`${name} <target>`)
      .description(
        `${name} a schedule: an entry (daily, control-plane, weekly, monthly, retention (rotate), verify, dump, drill) or a schedule id`,
      )
      .option('--cloud <name>', 'cloud of the entry (default: the only one)')
      .option('--reason <text>', 'shown with the schedule in the UI and `schedules list`')
      .action(async function (this: Command, target: string) {
        const g = this.optsWithGlobals<G & { reason?: string }>();
        const config = ctx.load(g);
        const client = await connect(config);
        const { id } = await resolveManaged(ctx, config, g, client, target);
        const h = client.schedule.getHandle(id);
        if (pause) await h.pause(g.reason ?? 'paused with `osbackup schedules pause`');
        else await h.unpause(g.reason ?? 'unpaused with `osbackup schedules unpause`');
        const d = await h.describe();
        ctx.out(
          g,
          { scheduleId: id, paused: d.state.paused, note: d.state.note, ui: scheduleUiUrl(config, id) },
          `${id} ${d.state.paused ? 'paused' : 'active'}${d.state.note ? ` (${d.state.note})` : ''}\n  ${scheduleUiUrl(config, id)}\n`,
        );
      });
  }

  schedules
    .command('trigger <target>')
    .description("run a schedule's action now (its overlap policy applies); prints the started workflow id and UI link")
    .option('--cloud <name>', 'cloud of the entry (default: the only one)')
    .action(async function (this: Command, target: string) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const client = await connect(config);
      const { id, description } = await resolveManaged(ctx, config, g, client, target);
      const before = new Set(actionWorkflowIds(description));
      const h = client.schedule.getHandle(id);
      await h.trigger();
      // the trigger is asynchronous: the started workflow shows up in recentActions shortly after
      const t0 = Date.now();
      for (;;) {
        const d = await h.describe();
        const started = d.info.recentActions.find((a) => !before.has(a.action.workflow.workflowId));
        if (started) {
          const w = started.action.workflow;
          const ui = workflowUiUrl(config, w.workflowId, w.firstExecutionRunId);
          return ctx.out(
            g,
            {
              scheduleId: id,
              workflowId: w.workflowId,
              runId: w.firstExecutionRunId,
              workflowType: d.action.workflowType,
              ui,
            },
            `${w.workflowId}\n  ${ui}\n`,
          );
        }
        if (Date.now() - t0 > 15_000) {
          const running = d.info.runningActions.map((a) => a.workflow.workflowId);
          throw new CliError(
            `${id} was triggered but started nothing within 15 s${running.length ? `: its overlap policy (${d.policies.overlap}) holds the run back while ${running.join(', ')} runs` : ''}${d.state.paused ? ' (the schedule is paused; a trigger still runs, check the server)' : ''}`,
            EXIT.failed,
          );
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    });

  schedules
    .command('delete <target>')
    .description(
      "delete one of osbackup's schedules (an entry or a schedule id); apply recreates it while the config has it enabled",
    )
    .option('--cloud <name>', 'cloud of the entry (default: the only one)')
    .action(async function (this: Command, target: string) {
      const g = this.optsWithGlobals<G>();
      const config = ctx.load(g);
      const client = await connect(config);
      const { id, existing } = await resolveManaged(ctx, config, g, client, target);
      await client.schedule.getHandle(id).delete();
      const m = existing.managed!;
      const c = config.clouds[m.cloud];
      const stillWanted = !!(c && entryConfig(c, m.entry)?.enabled);
      ctx.out(
        g,
        { scheduleId: id, deleted: true, stillInConfig: stillWanted },
        `deleted ${id}${stillWanted ? `\n  note: clouds.${m.cloud}.schedules.entries.${m.entry} is still enabled, so the next apply creates it again (set enabled: false to keep it gone)` : ''}\n`,
      );
    });
}
