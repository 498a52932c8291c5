// The transport messages a Temporal cluster with mutual TLS produced (recorded from the lab's
// cluster): which ones end a connection attempt at once, and how they read in the one-line error.
import { opensslReason } from '../../client/transport-probe.js';
import { connectionHint, isCertificateRefusal } from '../../config/temporal.js';
import type { Config } from '../../config/schema.js';

const unknownCa =
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 802C4767977F0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 48\n';
const opensslPart = (s: string) => s.slice(s.indexOf(': ') + 2);

const config = (tls?: Record<string, string>) =>
  ({ temporal: { address: '127.0.0.1:17433', namespace: 'osbackup', tls } }) as unknown as Config;

test("OpenSSL's error string becomes its reason and alert number, on one line", () => {
  expect(opensslReason(opensslPart(unknownCa))).toBe('tlsv1 alert unknown ca (SSL alert number 48)');
  expect(
    opensslReason(
      '80CCA160D97F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n',
    ),
  ).toBe('tlsv13 alert certificate required (SSL alert number 116)');
  // anything else is kept, on one line
  expect(opensslReason('unable to verify\nthe first certificate')).toBe('unable to verify the first certificate');
});

test('certificate refusals end the attempt at once; a server not (yet) listening does not', () => {
  expect(isCertificateRefusal(`ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: ${opensslReason(opensslPart(unknownCa))}`)).toBe(true);
  expect(isCertificateRefusal('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tlsv13 alert certificate required')).toBe(
    true,
  );
  expect(isCertificateRefusal('UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate')).toBe(true);
  expect(isCertificateRefusal("ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames")).toBe(
    true,
  );
  expect(isCertificateRefusal('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:17433')).toBe(false);
  expect(isCertificateRefusal('no answer within 5 s (timed out)')).toBe(false);
});

test('the hint names the certificate in use, or the keys to set', () => {
  const alert = 'tlsv1 alert unknown ca';
  expect(connectionHint(alert, config({ clientCertFile: '/etc/osbackup/c.pem', clientKeyFile: 'k' }))).toBe(
    'the server refused the client certificate /etc/osbackup/c.pem. Fix: use a certificate signed by the CA the server trusts for clients',
  );
  expect(connectionHint('tlsv13 alert certificate required', config({ serverRootCaFile: '/ca.pem' }))).toBe(
    'the server asks for a client certificate (mutual TLS) and this config has none. Fix: set temporal.tls.clientCertFile and clientKeyFile',
  );
});
