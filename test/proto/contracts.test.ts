// The contracts in proto/ are the source of truth: they lint, the committed
// generated code matches them, and no change breaks the wire format of main.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const exec = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const buf = join(root, 'node_modules/.bin/buf');

async function run(command: string, args: string[], cwd = root) {
  try {
    const { stdout, stderr } = await exec(command, args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('protobuf contracts', () => {
  test('buf lint passes', async () => {
    const result = await run(buf, ['lint']);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  test('the committed gen/ is exactly what the protos generate', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gen-'));
    const generated = await run(join(root, 'scripts/gen-contracts.sh'), [out]);
    expect(generated.code, generated.output).toBe(0);
    const fresh = files(join(out, 'gen'))
      .map((f) => relative(join(out, 'gen'), f))
      .sort();
    const committed = files(join(root, 'gen'))
      .map((f) => relative(join(root, 'gen'), f))
      .sort();
    expect(committed, 'files in gen/ (run `npm run gen`)').toEqual(fresh);
    for (const file of fresh) {
      const same = readFileSync(join(out, 'gen', file)).equals(
        readFileSync(join(root, 'gen', file)),
      );
      expect(same, `gen/${file} is stale: run \`npm run gen\``).toBe(true);
    }
  });

  test('the protos keep wire and JSON compatibility with main', async () => {
    const main =
      (await run('git', ['rev-parse', '--verify', '--quiet', 'refs/heads/main'])).code === 0
        ? 'main'
        : 'origin/main';
    const against = main === 'main' ? '.git#branch=main' : '.git#ref=origin/main';
    const result = await run(buf, ['breaking', '--against', against]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  test('a breaking change is caught by the same check', async () => {
    const changed = mkdtempSync(join(tmpdir(), 'proto-'));
    cpSync(join(root, 'proto'), join(changed, 'proto'), { recursive: true });
    cpSync(join(root, 'buf.yaml'), join(changed, 'buf.yaml'));
    const link = join(changed, 'proto/shortener/v1/link.proto');
    writeFileSync(
      link,
      readFileSync(link, 'utf8').replace('string target_url = 3;', 'int64 target_url = 3;'),
    );
    const result = await run(buf, ['breaking', '--against', join(root, 'proto')], changed);
    expect(result.code).toBe(100);
    expect(result.output).toMatch(/target_url/);
  });
});
