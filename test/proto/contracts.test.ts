// The contracts in proto/ are the source of truth: they lint, the committed
// generated code matches them, and no change breaks the wire format of main.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
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

async function sha(ref: string, cwd = REPO_ROOT): Promise<string | undefined> {
  const result = await run('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], cwd);
  return result.code === 0 ? result.output.trim() : undefined;
}

/** Whether a buf.yaml excuses some breaking rule (`breaking.ignore` or `breaking.ignore_only`). */
function excusesBreaks(bufYaml: string): boolean {
  const breaking = (parse(bufYaml) as { breaking?: Record<string, unknown> } | null)?.breaking;
  const ignore = breaking?.ignore;
  const only = breaking?.ignore_only;
  return (
    (Array.isArray(ignore) && ignore.length > 0) ||
    (typeof only === 'object' && only !== null && Object.keys(only).length > 0)
  );
}

/**
 * What the working tree must stay compatible with: on a branch, the commit
 * where it left main; on main itself, main's previous commit (comparing main
 * with main would check nothing), so every commit is held to the one before.
 *
 * A deliberate break is made in one commit whose buf.yaml excuses exactly
 * that rule, and the excuse is removed in the next. Once the working tree no
 * longer excuses anything, the newest such commit since the baseline is the
 * baseline: what it changed was accepted (its own check held everything else
 * to what came before), and everything after it is held to it by every rule.
 */
async function compatibilityBaseline(cwd = REPO_ROOT): Promise<string> {
  const head = await sha('HEAD', cwd);
  const main = (await sha('refs/heads/main', cwd)) ?? (await sha('refs/remotes/origin/main', cwd));
  if (!head || !main) throw new Error('no main branch to compare the protos with');
  let baseline = (await sha('HEAD~1', cwd)) ?? head;
  if (head !== main) {
    const base = await run('git', ['merge-base', 'HEAD', main], cwd);
    baseline = base.code === 0 ? base.output.trim() : main;
  }
  if (excusesBreaks(readFileSync(join(cwd, 'buf.yaml'), 'utf8'))) return baseline;
  const touched = await run(
    'git',
    ['log', '--format=%H', `${baseline}..HEAD`, '--', 'buf.yaml'],
    cwd,
  );
  for (const commit of touched.output.split('\n').filter(Boolean)) {
    const bufYaml = await run('git', ['show', `${commit}:buf.yaml`], cwd);
    if (bufYaml.code === 0 && excusesBreaks(bufYaml.output)) return commit;
  }
  return baseline;
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

  test('a break made on purpose passes only while excused, and once the excuse is gone every later change is held to it', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'proto-'));
    cpSync(join(REPO_ROOT, 'proto'), join(repo, 'proto'), { recursive: true });
    const config = parse(readFileSync(join(REPO_ROOT, 'buf.yaml'), 'utf8')) as {
      breaking: Record<string, unknown>;
    };
    delete config.breaking.ignore_only;
    delete config.breaking.ignore;
    const strict = stringify(config);
    const excused = stringify({
      ...config,
      breaking: {
        ...config.breaking,
        ignore_only: { RPC_SAME_IDEMPOTENCY_LEVEL: ['proto/shortener/v1/link.proto'] },
      },
    });
    const git = (...args: string[]) =>
      run('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], repo);
    const check = async () =>
      run(buf, ['breaking', '--against', `.git#ref=${await compatibilityBaseline(repo)}`], repo);
    const commit = async (message: string) => {
      await git('add', '.');
      await git('commit', '-qm', message);
    };
    writeFileSync(join(repo, 'buf.yaml'), strict);
    await git('init', '-q', '-b', 'main');
    await commit('main');
    await git('checkout', '-q', '-b', 'feature');

    // The break, committed with its excuse: the check passes.
    const link = join(repo, 'proto/shortener/v1/link.proto');
    const deleteLink = 'rpc DeleteLink(DeleteLinkRequest) returns (DeleteLinkResponse);';
    const protos = readFileSync(link, 'utf8');
    expect(protos).toContain(deleteLink);
    writeFileSync(
      link,
      protos.replace(
        deleteLink,
        `${deleteLink.slice(0, -1)} {\n    option idempotency_level = IDEMPOTENT;\n  }`,
      ),
    );
    const unexcused = await check();
    expect(unexcused.code).toBe(100);
    expect(unexcused.output).toMatch(/DeleteLink.*idempotency_level/);
    writeFileSync(join(repo, 'buf.yaml'), excused);
    expect(await check()).toEqual({ code: 0, output: '' });
    await commit('break on purpose');

    // The excuse removed in the next commit: still green.
    writeFileSync(join(repo, 'buf.yaml'), strict);
    expect(await check()).toEqual({ code: 0, output: '' });
    await commit('the excuse goes');
    expect(await check()).toEqual({ code: 0, output: '' });

    // Any later break is caught against the accepted one.
    writeFileSync(
      link,
      readFileSync(link, 'utf8').replace('string target_url = 3;', 'int64 target_url = 3;'),
    );
    const later = await check();
    expect(later.code).toBe(100);
    expect(later.output).toMatch(/target_url/);
  });
});
