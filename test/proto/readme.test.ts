// The README's configuration table is the user's reference: it must list
// every variable the services read, and nothing they do not.
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { MESH_VARIABLES } from '../../mesh.ts';

test('the README documents exactly the configuration variables the code reads', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'));
  const documented = [...table.matchAll(/^\| `([A-Z0-9_]+)`\s+\|/gm)].map((m) => m[1]);
  expect([...documented].sort()).toEqual([...MESH_VARIABLES].sort());
});
