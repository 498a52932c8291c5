// encryption.escrow: the escrow copies of the keys that open
// the artifacts, kept OUTSIDE the cloud (an offline USB stick, a vault, a safe). The worker
// never needs them — it holds only public keys and the passphrase — but `osbackup keys check`
// proves with them, and only them, that recent artifacts can still be decrypted.
//
//   encryptionSchema: escrow: escrowSchema   (defaults to [])
//
// encryption:
//   passphrase: { file: /etc/osbackup/passphrase }
//   recipientKeyFiles: [/etc/osbackup/keys/operator.asc]
//   escrow:
//     - name: operator-2026                      # an armored `gpg --export-secret-keys` file
//       secretKeyFile: /mnt/escrow/operator-2026.sec.asc
//       secretKeyPassphrase: { env: OSBACKUP_ESCROW_KEY_PASSPHRASE }   # when the key is protected
//     - name: passphrase-copy                    # the passphrase as kept outside the cloud
//       passphrase: { file: /mnt/escrow/passphrase }
import { z } from 'zod';
import { secretRefSchema } from './secret-ref.js';

const nonEmpty = z.string().min(1, 'must not be empty');
const absPath = nonEmpty.refine((p) => p.startsWith('/'), 'must be an absolute path');
const entryName = z.string().regex(/^[A-Za-z0-9_.@-]+$/, 'escrow names are letters, digits, "_", ".", "@" and "-"');

/** An armored (or binary) secret key export, possibly protected by its own passphrase. */
export const escrowKeySchema = z
  .object({
    name: entryName,
    secretKeyFile: absPath,
    secretKeyPassphrase: secretRefSchema.optional(),
  })
  .strict();

/** The copy of encryption.passphrase kept outside the cloud (compared by hash, never printed). */
export const escrowPassphraseSchema = z
  .object({
    name: entryName,
    passphrase: secretRefSchema,
  })
  .strict();

export const escrowEntrySchema = z.union([escrowKeySchema, escrowPassphraseSchema], {
  error: 'an escrow entry is either { name, secretKeyFile, secretKeyPassphrase? } or { name, passphrase }',
});

export const escrowSchema = z
  .array(escrowEntrySchema)
  .default([])
  .refine((l) => new Set(l.map((e) => e.name)).size === l.length, 'escrow names must be unique');

export type EscrowKeyEntry = z.infer<typeof escrowKeySchema>;
export type EscrowPassphraseEntry = z.infer<typeof escrowPassphraseSchema>;
export type EscrowEntry = z.infer<typeof escrowEntrySchema>;

export function isEscrowKey(e: EscrowEntry): e is EscrowKeyEntry {
  return 'secretKeyFile' in e;
}
