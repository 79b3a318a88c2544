// Configuration is validated once, at start: values that would quietly break
// the service (a cache that never expires, a deadline of nothing) are refused
// with the variable named.
import { describe, expect, test } from 'vitest';
import { gatewaySettings } from '../../gateway/config.ts';
import { ConfigError, loadConfig as loadParts } from '../../lib/config/load.ts';
import { loadMeshConfig as loadConfig } from '../../mesh.ts';
import { linkSettings } from '../../services/link/config.ts';

describe('configuration', () => {
  test.each([
    ['NEAR_CACHE_TTL', '0'],
    ['LINK_CACHE_TTL', '0'],
    ['LINK_NEGATIVE_CACHE_TTL', '10ms'],
    ['GRPC_DEADLINE', '0'],
    ['GUEST_TOKEN_TTL', '1ms'],
    ['SNOWFLAKE_LEASE_TTL', '10ms'],
    ['RATE_LIMIT_CREATE_PER_IP', '0/1m'],
    ['LINK_GRPC_TARGET', 'http://link:50051'],
    ['RATE_LIMIT_CREATE_PER_IP', '60/1m/x'],
    ['RATE_LIMIT_CREATE_PER_PRINCIPAL', '60/1mfoo'],
    ['RATE_LIMIT_GUESTS_PER_IP', '0x3C/1h'],
    ['RATE_LIMIT_GUESTS_PER_IP', '20/'],
    ['GATEWAY_LISTEN', '127.0.0.1:65536'],
    ['LINK_GRPC_LISTEN', '0.0.0.0:99999'],
    ['IDENTITY_GRPC_LISTEN', '[::1]:70000'],
    ['LINK_GRPC_TARGET', 'link:0'],
    ['IDENTITY_GRPC_TARGET', 'dns:///identity:65536'],
    ['LINK_GRPC_TARGET', 'ipv4:10.0.0.1:50051,10.0.0.2:99999'],
  ])('when %s is %s, then start-up stops naming it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrowError(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrowError(new RegExp(`${name}=`));
  });

  test.each([
    'link-headless:50051',
    'dns:///link-headless.shortener.svc.cluster.local:50051',
    '[::1]:50051',
    'unix:/run/link.sock',
  ])('when the gateway is told to dial %s, then that target is taken as it is', (target) => {
    expect(loadConfig({ LINK_GRPC_TARGET: target }).gateway.linkTarget).toBe(target);
  });

  test('when a listen address asks for port 0 or 65535, then it is taken: 0 is any free port', () => {
    expect(loadConfig({ GATEWAY_LISTEN: '127.0.0.1:0' }).gateway.listen).toBe('127.0.0.1:0');
    expect(loadConfig({ LINK_GRPC_LISTEN: '[::1]:65535' }).link.listen).toBe('[::1]:65535');
    expect(loadConfig({ LINK_GRPC_TARGET: 'link:1' }).gateway.linkTarget).toBe('link:1');
  });

  test('when the first sweep is not given a delay, then it comes one interval after start; when it is, then after that', () => {
    const unset = loadConfig({ LINK_SWEEP_INTERVAL: '5m' }).link.expiry;
    expect(unset.sweepDelayMs).toBe(300_000);
    const set = loadConfig({ LINK_SWEEP_INTERVAL: '5m', LINK_SWEEP_DELAY: '0s' }).link.expiry;
    expect(set).toMatchObject({ sweepIntervalMs: 300_000, sweepDelayMs: 0 });
    expect(() => loadConfig({ LINK_SWEEP_DELAY: 'soon' })).toThrowError(/LINK_SWEEP_DELAY=/);
  });

  test('when a rate rule is exactly <count>/<duration>, then it is read as such', () => {
    const config = loadConfig({
      RATE_LIMIT_CREATE_PER_IP: '5/30s',
      RATE_LIMIT_GUESTS_PER_IP: '7/250',
    });
    expect(config.link.createPerIp).toEqual({ limit: 5, windowMs: 30_000 });
    expect(config.identity.guestsPerIp).toEqual({ limit: 7, windowMs: 250 });
  });

  test('when nothing is set, then every default is one that runs the embedded mesh', () => {
    const config = loadConfig({});
    expect(config.redisUrl).toBe('');
    expect(config.link.databaseUrl).toBe('sqlite:.data/link.sqlite');
    expect(config.gateway.linkTarget).toBe('127.0.0.1:50051');
    expect(config.gateway.publicBaseUrl).toBe('http://localhost:8080');
    expect(config.link.createPerPrincipal).toEqual({ limit: 60, windowMs: 60_000 });
  });

  test('when nothing is set for the notifier, then it writes mails to the outbox in the data folder, linking to the gateway’s default address', () => {
    const config = loadConfig({ DATA_DIR: '/var/lib/shortener' });
    expect(config.notifier.smtpUrl).toBe('');
    expect(config.notifier.outboxDir).toBe('/var/lib/shortener/outbox');
    expect(config.notifier.databaseUrl).toBe('sqlite:/var/lib/shortener/notifier.sqlite');
    // Unset: the mesh gives it the gateway's, a notifier alone the gateway's default.
    expect(config.notifier.publicBaseUrl).toBeUndefined();
    const set = loadConfig({
      NOTIFIER_PUBLIC_BASE_URL: 'https://sho.rt/',
      NOTIFIER_SMTP_URL: 'smtps://user:secret@mail.example.com:465',
      NOTIFIER_MAIL_FROM: 'no-reply@sho.rt',
    });
    expect(set.notifier.publicBaseUrl).toBe('https://sho.rt');
    expect(set.notifier.smtpUrl).toBe('smtps://user:secret@mail.example.com:465');
    expect(set.notifier.from).toBe('no-reply@sho.rt');
    for (const [name, value] of [
      ['NOTIFIER_SMTP_URL', 'mail.example.com:25'],
      ['NOTIFIER_SMTP_URL', 'smtp://mail.example.com/path'],
      ['NOTIFIER_MAIL_FROM', 'Shortener <nobody>'],
      ['NOTIFIER_MAIL_FROM', 'a@b.c\r\nBcc: x@y.z'],
      ['NOTIFIER_PUBLIC_BASE_URL', 'javascript:alert(1)'],
    ] as const) {
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrowError(
        new RegExp(`${name}=`),
      );
    }
  });

  test('when a process runs only the gateway, then it reads the runtime and gateway settings and leaves the services’ to them', () => {
    const env = { RATE_LIMIT_CREATE_PER_IP: 'lots', GRPC_DEADLINE: '750ms' };
    const gateway = loadParts({ gateway: gatewaySettings }, env);
    expect(gateway.grpcDeadlineMs).toBe(750);
    expect(gateway.gateway.linkTarget).toBe('127.0.0.1:50051');
    expect(() => loadParts({ link: linkSettings }, env)).toThrowError(/RATE_LIMIT_CREATE_PER_IP=/);
  });
});
