// Queries shared by workflows and the client.
import { defineQuery } from '@temporalio/workflow';

export interface Progress {
  phase: string;
  steps: { name: string; state: 'done' | 'running' | 'pending' | 'failed'; detail?: string }[];
}

export const progressQuery = defineQuery<Progress>('progress');
