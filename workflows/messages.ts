// Queries shared by workflows and the client.
import { defineQuery } from '@temporalio/workflow';

export interface Progress {
  phase: string;
  /** startedAt/completedAt (ISO) and seconds: set by runbooks that time their steps (the DR rebuild). */
  steps: { name: string; state: 'done' | 'running' | 'pending' | 'failed'; detail?: string; startedAt?: string; completedAt?: string; seconds?: number }[];
}

export const progressQuery = defineQuery<Progress>('progress');
