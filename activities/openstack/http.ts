// How OpenStack API answers become typed failures: a retry cannot cure a 4xx (the API's own
// message says why), except 409 (a resource in transition) and 429 (rate limit); 5xx and
// network errors are retried.
import type { ApplicationFailure } from '@temporalio/common';
import { fatal, FailureType, transient } from '../errors.js';

/** The human message of an OpenStack error body: {"badRequest": {"message": …}}, {"error": {"message": …}}, or text/HTML. */
export function apiMessage(body: string): string {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const inner = Object.values(j).find(
      (v) => v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string',
    ) as { message: string } | undefined;
    if (inner) return inner.message;
    if (typeof j.message === 'string') return j.message;
    // Neutron: {"NeutronError": {"message": …}} is caught above; Glance JSON: {"title", "description"}
    if (typeof j.description === 'string') return j.description;
  } catch {
    /* not JSON */
  }
  return body
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 400);
}

/** `what` is the call ("POST volumev3 /snapshots"), for the message. */
export function httpFailure(status: number, body: string, what: string): ApplicationFailure {
  const msg = `${what}: HTTP ${status}: ${apiMessage(body).replace(/\.+$/, '') || '(no message)'}`;
  if (status === 401)
    return fatal(
      FailureType.OpenstackAuthFailed,
      msg,
      'check the credentials (clouds.yaml / openrc) and that the user or application credential still exists',
    );
  if (status === 403)
    return fatal(
      FailureType.OpenstackForbidden,
      msg,
      'give the user the role the call needs (admin for all-projects listings), or narrow the selection',
    );
  if (status === 404) return fatal(FailureType.OpenstackNotFound, msg, 'the resource is gone or the id is wrong');
  if (status === 409)
    return transient(
      FailureType.OpenstackConflict,
      msg,
      'the resource stays in a transitional state: look at it with `openstack … show`',
    );
  if (status === 429)
    return transient(FailureType.OpenstackUnavailable, msg, 'the API rate-limits osbackup: lower the concurrency');
  if (status >= 500)
    return transient(FailureType.OpenstackUnavailable, msg, "look at the service's logs; the call is retried");
  return fatal(FailureType.OpenstackRequestRejected, msg, 'the API refused the request as it stands (see its message)');
}

export function networkFailure(e: unknown, what: string): ApplicationFailure {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
  return transient(
    FailureType.OpenstackUnavailable,
    `${what}: ${detail}`,
    'check that the endpoint is reachable from the worker',
  );
}
