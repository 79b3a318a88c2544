// What may be shortened, decided before anything is stored.
import { describe, expect, test } from 'vitest';
import type { DomainError } from '../../lib/errors.ts';
import { checkTarget } from '../../services/link/domain/target-url.ts';

const policy = { maxLength: 2048, allowPrivateTargets: false };

function refusal(url: string): string | undefined {
  try {
    checkTarget(url, policy);
    return undefined;
  } catch (error) {
    return (error as DomainError).code;
  }
}

describe('target URL policy', () => {
  test.each([
    ['http://127.0.0.1/', 'private_target'],
    ['http://10.1.2.3/', 'private_target'],
    ['http://169.254.169.254/latest/meta-data', 'private_target'],
    ['http://[::1]/', 'private_target'],
    ['http://[fe80::1]/', 'private_target'],
    ['http://[::ffff:127.0.0.1]/', 'private_target'],
    ['http://[::ffff:7f00:1]/', 'private_target'],
    ['http://[::7f00:1]/', 'private_target'],
    ['http://[64:ff9b::7f00:1]/', 'private_target'],
    ['http://[64:ff9b::10.0.0.1]/', 'private_target'],
    ['http://[2002:7f00:1::]/', 'private_target'],
    ['http://localhost:8080/', 'private_target'],
    ['http://printer.local/', 'private_target'],
    ['http://intranet/', 'private_target'],
    ['javascript:alert(1)', 'unsupported_scheme'],
    ['ftp://example.com/file', 'unsupported_scheme'],
    ['https://user:secret@example.com/', 'url_has_credentials'],
    ['https://example.com/\nx', 'invalid_url'],
    ['/relative/path', 'invalid_url'],
  ])('when %s is asked for, then it is refused as %s', (url, code) => {
    expect(refusal(url)).toBe(code);
  });

  test.each([
    ['https://example.com/a?b=c#d', 'https://example.com/a?b=c#d'],
    ['HTTPS://EXAMPLE.com', 'https://example.com/'],
    ['https://bücher.example/', 'https://xn--bcher-kva.example/'],
    ['http://[2001:db8::1]/', 'http://[2001:db8::1]/'],
    ['http://93.184.216.34/', 'http://93.184.216.34/'],
  ])('when %s is asked for, then %s is stored', (url, stored) => {
    expect(checkTarget(url, policy)).toBe(stored);
  });

  test('when private targets are allowed, then loopback is accepted', () => {
    expect(checkTarget('http://127.0.0.1:9000/x', { ...policy, allowPrivateTargets: true })).toBe(
      'http://127.0.0.1:9000/x',
    );
  });
});
