// A step tracker behind the `progress` query and the `Phase` search attribute, so the UI and
// the CLI show where a runbook is.
import { setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { progressQuery, type Progress } from './messages.js';
import { PHASE } from './search-attributes.js';

export class Steps {
  private readonly state: Progress;
  constructor(names: string[]) {
    this.state = { phase: 'starting', steps: names.map((name) => ({ name, state: 'pending' })) };
    setHandler(progressQuery, () => this.state);
  }

  async run<T>(name: string, work: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
    const step =
      this.state.steps.find((s) => s.name === name) ??
      (this.state.steps.push({ name, state: 'pending' }), this.state.steps.at(-1)!);
    step.state = 'running';
    this.state.phase = name;
    upsertSearchAttributes([{ key: PHASE, value: name }]);
    try {
      const r = await work();
      step.state = 'done';
      if (detail) step.detail = detail(r);
      return r;
    } catch (e) {
      step.state = 'failed';
      throw e;
    }
  }

  /** Takes a step that turned out not to apply off the list (only while it is pending). */
  drop(name: string): void {
    const i = this.state.steps.findIndex((s) => s.name === name && s.state === 'pending');
    if (i >= 0) this.state.steps.splice(i, 1);
  }

  /** Per-host states shown with the steps (the caller keeps them current). */
  setNodes(nodes: NonNullable<Progress['nodes']>): void {
    this.state.nodes = nodes;
  }

  finish(phase: string): void {
    this.state.phase = phase;
    upsertSearchAttributes([{ key: PHASE, value: phase }]);
  }
}
