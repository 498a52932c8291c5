// The pre-upgrade gate: is there a restore point fresh enough to undo an upgrade with.
import { gateVerdict, type GateInput, type GateVerdict } from '../../core/preflight/preflight.js';
import type { ActivityContext } from '../context.js';

export function preflightActivities({ catalog }: ActivityContext) {
  return {
    /** The pre-upgrade gate's verdict from the repository's catalog, by the worker's clock. */
    async preflightGate(input: Omit<GateInput, 'rows' | 'now'> & { cloud: string }): Promise<GateVerdict> {
      const { cloud, ...rest } = input;
      return gateVerdict({ ...rest, rows: await catalog.list(cloud), now: new Date().toISOString() });
    },
  };
}
