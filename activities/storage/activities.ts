// The repository's staging folders, shared by every kind of backup: an attempt writes into one,
// then publishes it or has it dropped.
import type { ActivityContext } from '../context.js';
import { fsFailure } from '../errors.js';

export function storageActivities({ env }: ActivityContext) {
  return {
    async repositoryCreateStaging(input: { id: string }): Promise<{ stagingDir: string }> {
      try {
        return { stagingDir: await env.repo.createStaging(input.id) };
      } catch (e) {
        throw fsFailure(e, `creating a staging folder in ${env.repo.root}`);
      }
    },

    /** Compensation: drops an attempt's staged artifact that will not be published. */
    async repositoryDiscardStaging(input: { stagingDir: string }): Promise<void> {
      await env.repository.discardStaging(input.stagingDir);
    },
  };
}
