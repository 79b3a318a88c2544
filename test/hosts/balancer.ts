// HAProxy on a host of its own in front of both gateways, as a user's
// traffic would meet them: round robin, a gateway taken out as soon as its
// /readyz fails and put back once it passes twice.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostProcess, Network } from './network.ts';

/** Why HAProxy cannot run here, or undefined if it can. */
export function haproxyMissing(): string | undefined {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return undefined;
  } catch (error) {
    return `haproxy is not installed (${(error as Error).message}); .ci/run installs it from Debian's packages`;
  }
}

/**
 * How often HAProxy asks each gateway's /readyz; two failed checks take a
 * gateway out, so a draining gateway must keep serving for longer than two
 * intervals and a check's time.
 */
export const CHECK_INTERVAL_MS = 250;

export function startBalancer(
  network: Network,
  host: string,
  port: number,
  gateways: { name: string; address: string }[],
): HostProcess {
  const config = [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    // /readyz asks every service behind the gateway; a busy host may take a while to answer.
    '  timeout check 1s',
    'frontend web',
    `  bind ${network.host(host).ip}:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  default-server inter ${CHECK_INTERVAL_MS}ms fall 2 rise 2`,
    ...gateways.map(({ name, address }) => `  server ${name} ${address} check`),
    '',
  ].join('\n');
  const file = join(network.dir, 'haproxy.cfg');
  writeFileSync(file, config);
  return network.spawn(host, 'haproxy', 'haproxy', ['-f', file, '-db'], {
    PATH: process.env.PATH,
  });
}
