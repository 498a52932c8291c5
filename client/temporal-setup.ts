// What a Temporal namespace must have before osbackup can run on it: the namespace itself and
// the search attributes the workflows set (the UI filters on them; a start that sets an
// unregistered one is refused by the server). `osbackup temporal setup` makes it so and says
// what it changed; the CLI and the worker check it before they start anything.
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type { OperatorService, WorkflowService } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/search-attributes.js';

/** The part of a Connection (client or worker) the checks use. */
export interface ServiceConnection {
  workflowService: WorkflowService;
  operatorService: OperatorService;
}

const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
const code = (e: unknown) => (e as { code?: number }).code;
// gRPC status codes (the ones these calls answer with)
const grpcStatus = { NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12, UNAUTHENTICATED: 16 };

/**
 * The osbackup search attributes the namespace lacks; null when the server does not let this
 * client list them (Temporal Cloud without operator rights): then nothing can be said.
 */
export async function missingSearchAttributes(c: ServiceConnection, namespace: string): Promise<string[] | null> {
  let have: Record<string, unknown>;
  try {
    const r = await c.operatorService.listSearchAttributes({ namespace });
    have = { ...(r.customAttributes ?? {}), ...(r.systemAttributes ?? {}) };
  } catch (e) {
    if ([grpcStatus.PERMISSION_DENIED, grpcStatus.UNIMPLEMENTED, grpcStatus.UNAUTHENTICATED].includes(code(e)!))
      return null;
    if (code(e) === grpcStatus.NOT_FOUND) throw new NamespaceMissing(namespace);
    throw e;
  }
  return SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in have));
}

export class NamespaceMissing extends Error {
  constructor(readonly namespace: string) {
    super(
      `namespace ${namespace} does not exist on this Temporal. Fix: run \`osbackup temporal setup\` (it creates it where the server allows), or correct temporal.namespace`,
    );
  }
}

/** The refusal the CLI and the worker print when the namespace is not set up. */
export function setupMissingMessage(namespace: string, missing: string[]): string {
  return `namespace ${namespace} lacks the search attributes ${missing.join(', ')} that osbackup's workflows set; a run would be refused by the server. Fix: run \`osbackup temporal setup\` once against this Temporal`;
}

export interface SetupReport {
  namespace: { name: string; state: 'existed' | 'created' | 'missing, not allowed to create' };
  searchAttributes: { name: string; state: 'existed' | 'added' }[];
}

/** Creates the namespace (where the server allows it) and registers the attributes; idempotent. */
export async function temporalSetup(
  c: ServiceConnection,
  namespace: string,
  retentionDays: number,
): Promise<SetupReport> {
  let ns: SetupReport['namespace']['state'] = 'existed';
  try {
    await c.workflowService.describeNamespace({ namespace });
  } catch (e) {
    if (code(e) !== grpcStatus.NOT_FOUND) throw e;
    try {
      await c.workflowService.registerNamespace({
        namespace,
        description: 'osbackup: backups, restores and drills',
        workflowExecutionRetentionPeriod: msToTs(retentionDays * 86_400_000),
      });
      ns = 'created';
      // a new namespace takes a moment to be visible to the operator service
      for (let i = 0; i < 50; i++) {
        try {
          await c.workflowService.describeNamespace({ namespace });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } catch (e2) {
      if (code(e2) === grpcStatus.ALREADY_EXISTS) ns = 'existed';
      else if ([grpcStatus.PERMISSION_DENIED, grpcStatus.UNIMPLEMENTED].includes(code(e2)!)) {
        return { namespace: { name: namespace, state: 'missing, not allowed to create' }, searchAttributes: [] };
      } else throw e2;
    }
  }
  let listed: string[] | null = null;
  for (let i = 0; ; i++) {
    try {
      listed = await missingSearchAttributes(c, namespace);
      break;
    } catch (e) {
      // a namespace just created reaches the operator service a moment later
      if (!(e instanceof NamespaceMissing) || i >= 50) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const missing = listed ?? [...SEARCH_ATTRIBUTE_NAMES];
  if (missing.length)
    try {
      await c.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((n) => [n, KEYWORD])),
      });
    } catch (e) {
      if (code(e) !== grpcStatus.ALREADY_EXISTS) throw e;
    }
  return {
    namespace: { name: namespace, state: ns },
    searchAttributes: SEARCH_ATTRIBUTE_NAMES.map((n) => ({
      name: n,
      state: missing.includes(n) ? 'added' : 'existed',
    })),
  };
}
