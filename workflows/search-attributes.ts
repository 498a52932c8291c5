// Typed search attributes the Temporal UI filters on; registered by `./dev` on the dev server.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CLOUD = defineSearchAttributeKey('Cloud', SearchAttributeType.KEYWORD);
export const COMPONENT = defineSearchAttributeKey('Component', SearchAttributeType.KEYWORD);
export const TIER = defineSearchAttributeKey('Tier', SearchAttributeType.KEYWORD);
export const PHASE = defineSearchAttributeKey('Phase', SearchAttributeType.KEYWORD);

/** Names as the dev server registers them: keep in step with ./dev and temporal-dev.yml. */
export const SEARCH_ATTRIBUTE_NAMES = ['Cloud', 'Component', 'Tier', 'Phase'] as const;
