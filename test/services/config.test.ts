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

  test('when nothing is set, then every default is one that runs the embedded mesh', () => {
    const config = loadConfig({});
    expect(config.redisUrl).toBe('');
    expect(config.link.databaseUrl).toBe('sqlite:.data/link.sqlite');
    expect(config.gateway.linkTarget).toBe('127.0.0.1:50051');
    expect(config.gateway.publicBaseUrl).toBe('http://localhost:8080');
    expect(config.link.createPerPrincipal).toEqual({ limit: 60, windowMs: 60_000 });
  });

  test('when a process runs only the gateway, then it reads the runtime and gateway settings and leaves the services’ to them', () => {
    const env = { RATE_LIMIT_CREATE_PER_IP: 'lots', GRPC_DEADLINE: '750ms' };
    const gateway = loadParts({ gateway: gatewaySettings }, env);
    expect(gateway.grpcDeadlineMs).toBe(750);
    expect(gateway.gateway.linkTarget).toBe('127.0.0.1:50051');
    expect(() => loadParts({ link: linkSettings }, env)).toThrowError(/RATE_LIMIT_CREATE_PER_IP=/);
  });
});
