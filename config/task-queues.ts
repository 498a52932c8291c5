// Which task queue a run goes to, and which queues a worker polls. A cloud may have a queue of
// its own (clouds.<c>.taskQueue): its runs, their children and every activity of them are then
// taken only by the workers that serve that cloud — the site's worker, the one that reaches the
// cloud's hosts. Runs that belong to no cloud (a listing of every cloud's catalog, describing an
// artifact by id, the capacity forecast) go to temporal.taskQueue, as do clouds without a queue
// of their own.
import type { Config } from './schema.js';

/** The queue of a cloud's runs; the default queue for runs of no cloud. */
export function taskQueueOf(config: Config, cloud?: string): string {
  return (cloud !== undefined ? config.clouds[cloud]?.taskQueue : undefined) ?? config.temporal.taskQueue;
}

export interface ServedQueues {
  /** The clouds this worker serves. */
  clouds: string[];
  /** The queues it polls, the default queue first when it is one of them. */
  queues: string[];
}

/**
 * What a worker serves: `only` (the `--cloud` flags) or else `worker.clouds`, or else every
 * cloud. It polls its clouds' queues, and the default queue unless a cloud it does not serve
 * sits there: the runs of no cloud only read the repository and the targets, which every
 * site's worker reaches, so with each cloud on a queue of its own every worker takes them.
 */
export function servedQueues(config: Config, only?: readonly string[]): ServedQueues {
  const chosen = only?.length ? only : config.worker.clouds;
  const unknown = (chosen ?? []).filter((c) => !(c in config.clouds));
  if (unknown.length)
    throw new Error(
      `no cloud ${unknown.map((c) => `"${c}"`).join(', ')} in the config (clouds: ${Object.keys(config.clouds).join(', ')})`,
    );
  const clouds = chosen ? [...new Set(chosen)] : Object.keys(config.clouds);
  const def = config.temporal.taskQueue;
  const queues = new Set(clouds.map((c) => taskQueueOf(config, c)));
  const othersOnDefault = Object.keys(config.clouds).some((c) => !clouds.includes(c) && taskQueueOf(config, c) === def);
  if (!othersOnDefault) queues.add(def);
  return { clouds, queues: [...queues].sort((a, b) => (a === def ? -1 : b === def ? 1 : a.localeCompare(b))) };
}
