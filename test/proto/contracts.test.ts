// The contracts in proto/ are the source of truth: they lint, the committed
// generated code matches them, and no change breaks the wire format of main.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../support/processes.ts';

const exec = promisify(execFile);
const buf = join(REPO_ROOT, 'node_modules/.bin/buf');

async function run(command: string, args: string[], cwd = REPO_ROOT) {
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

async function sha(ref: string): Promise<string | undefined> {
  const result = await run('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return result.code === 0 ? result.output.trim() : undefined;
}

/**
 * What the working tree must stay compatible with: on a branch, the commit
 * where it left main; on main itself, main's previous commit (comparing main
 * with main would check nothing), so every commit is held to the one before.
 */
async function compatibilityBaseline(): Promise<string> {
  const head = await sha('HEAD');
  const main = (await sha('refs/heads/main')) ?? (await sha('refs/remotes/origin/main'));
  if (!head || !main) throw new Error('no main branch to compare the protos with');
  if (head !== main) {
    const base = await run('git', ['merge-base', 'HEAD', main]);
    if (base.code === 0) return base.output.trim();
    return main;
  }
  return (await sha('HEAD~1')) ?? head;
}

describe('protobuf contracts', () => {
  test('buf lint passes', async () => {
    const result = await run(buf, ['lint']);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  test('the committed gen/ is exactly what the protos generate', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gen-'));
    const generated = await run(join(REPO_ROOT, 'scripts/gen-contracts.sh'), [out]);
    expect(generated.code, generated.output).toBe(0);
    const fresh = files(join(out, 'gen'))
      .map((f) => relative(join(out, 'gen'), f))
      .sort();
    const committed = files(join(REPO_ROOT, 'gen'))
      .map((f) => relative(join(REPO_ROOT, 'gen'), f))
      .sort();
    expect(committed, 'files in gen/ (run `npm run gen`)').toEqual(fresh);
    for (const file of fresh) {
      const same = readFileSync(join(out, 'gen', file)).equals(
        readFileSync(join(REPO_ROOT, 'gen', file)),
      );
      expect(same, `gen/${file} is stale: run \`npm run gen\``).toBe(true);
    }
  });

  test('the protos keep wire and JSON compatibility with main', async () => {
    const result = await run(buf, [
      'breaking',
      '--against',
      `.git#ref=${await compatibilityBaseline()}`,
    ]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  test('a breaking change is caught by the same check', async () => {
    // A throwaway repository holding today's protos as its previous commit.
    const repo = mkdtempSync(join(tmpdir(), 'proto-'));
    cpSync(join(REPO_ROOT, 'proto'), join(repo, 'proto'), { recursive: true });
    cpSync(join(REPO_ROOT, 'buf.yaml'), join(repo, 'buf.yaml'));
    const git = (...args: string[]) =>
      run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], repo);
    await git('init', '-q');
    await git('add', '.');
    await git('commit', '-qm', 'baseline');
    const baseline = (await run('git', ['rev-parse', 'HEAD'], repo)).output.trim();
    const link = join(repo, 'proto/shortener/v1/link.proto');
    writeFileSync(
      link,
      readFileSync(link, 'utf8').replace('string target_url = 3;', 'int64 target_url = 3;'),
    );
    const result = await run(buf, ['breaking', '--against', `.git#ref=${baseline}`], repo);
    expect(result.code).toBe(100);
    expect(result.output).toMatch(/target_url/);
  });
});
