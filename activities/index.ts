// All activities, one factory per domain over one shared context. The keys are the activity
// names recorded in workflow histories: renaming one breaks running workflows, and a name two
// factories define would silently shadow the first (the unit tests keep them disjoint).
import { createActivityContext, type ActivityContext } from './context.js';
import type { Deps } from './deps.js';
import { catalogActivities } from './catalog/activities.js';
import { controlPlaneActivities } from './control-plane/activities.js';
import { copyActivities } from './copy/activities.js';
import { drActivities } from './dr/activities.js';
import { drillActivities } from './drill/activities.js';
import { dumpActivities } from './dump/activities.js';
import { galeraActivities } from './galera/activities.js';
import { importActivities } from './import/activities.js';
import { mariadbActivities } from './mariadb/activities.js';
import { openstackActivities } from './openstack/activities.js';
import { pitrActivities } from './pitr/activities.js';
import { preflightActivities } from './preflight/activities.js';
import { retentionActivities } from './retention/activities.js';
import { serviceRestoreActivities } from './service-restore/activities.js';
import { storageActivities } from './storage/activities.js';
import { tiersActivities } from './tiers/activities.js';
import { verifyActivities } from './verify/activities.js';

export type { ActivityContext } from './context.js';
export type { Deps } from './deps.js';
export type { StreamBackupInput, StreamBackupResult } from './mariadb/backup.js';

/** Every domain's factory, by domain. */
export const activityFactories = {
  mariadb: mariadbActivities,
  storage: storageActivities,
  galera: galeraActivities,
  pitr: pitrActivities,
  serviceRestore: serviceRestoreActivities,
  dump: dumpActivities,
  controlPlane: controlPlaneActivities,
  import: importActivities,
  catalog: catalogActivities,
  preflight: preflightActivities,
  retention: retentionActivities,
  tiers: tiersActivities,
  copy: copyActivities,
  verify: verifyActivities,
  drill: drillActivities,
  openstack: openstackActivities,
  dr: drActivities,
} satisfies Record<string, (ctx: ActivityContext) => object>;

export function createActivities(deps: Deps) {
  const ctx = createActivityContext(deps);
  return {
    ...mariadbActivities(ctx),
    ...storageActivities(ctx),
    ...galeraActivities(ctx),
    ...pitrActivities(ctx),
    ...serviceRestoreActivities(ctx),
    ...dumpActivities(ctx),
    ...controlPlaneActivities(ctx),
    ...importActivities(ctx),
    ...catalogActivities(ctx),
    ...preflightActivities(ctx),
    ...retentionActivities(ctx),
    ...tiersActivities(ctx),
    ...copyActivities(ctx),
    ...verifyActivities(ctx),
    ...drillActivities(ctx),
    ...openstackActivities(ctx),
    ...drActivities(ctx),
  };
}

export type Activities = ReturnType<typeof createActivities>;
