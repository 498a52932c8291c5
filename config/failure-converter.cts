// The failure converter of every osbackup process and of the workflow sandbox: failure
// messages and stack traces go into an encoded payload, so the payload codec encrypts them
// too (by default Temporal keeps them as plain text in history).
// CommonJS on purpose: the SDK require()s `failureConverterPath` in the worker and the client,
// and webpack bundles the same file into the workflow sandbox (worker/bundle.ts).
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
