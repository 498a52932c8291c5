// The worker as a script of its own (`node dist/worker/main.js --config f [--cloud c]…`), as the lab and
// `npm run worker` start it; an installed osbackup runs the same code as `osbackup worker`.
import { redact } from '../activities/redact.js';
import { runWorker } from './run.js';

const argv = process.argv;
runWorker({
  config: argv.find((_, i) => argv[i - 1] === '--config'),
  clouds: argv.filter((_, i) => argv[i - 1] === '--cloud'),
}).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`osbackup worker failed: ${redact(e instanceof Error ? e.message : String(e))}`);
    process.exit(1);
  },
);
