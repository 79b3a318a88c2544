// What every error answer of the HTTP API is: RFC 9457 problem details whose
// type names its stable code.
import { expect } from 'vitest';
import type { Answer } from './http.ts';

export interface ExpectedProblem {
  /** The problem's code, when the requirement fixes one. */
  code?: string | undefined;
  /** The problem's field, when the requirement fixes one. */
  field?: string | undefined;
  /** Names the case in failure messages, for checks made in a loop. */
  label?: string | undefined;
}

/**
 * The answer is a problem with this status: problem+json, a title and detail,
 * a code and the type `/problems/<code>`; and the code and field asked for.
 */
export function expectProblem(
  answer: Answer,
  status: number,
  { code, field, label }: ExpectedProblem = {},
): void {
  expect(answer.status, label).toBe(status);
  expect(answer.headers.get('content-type'), label).toContain('application/problem+json');
  expect(answer.body.status, label).toBe(status);
  expect(typeof answer.body.title, label).toBe('string');
  expect(answer.body.title.length, label).toBeGreaterThan(0);
  expect(typeof answer.body.detail, label).toBe('string');
  expect(typeof answer.body.code, label).toBe('string');
  expect(answer.body.type, label).toBe(`/problems/${answer.body.code}`);
  if (code !== undefined) expect(answer.body.code, label).toBe(code);
  if (field !== undefined) {
    expect(answer.body.field, label).toBe(field);
    // The detail names the field as the JSON API spells it, never as the protos do.
    expect(answer.body.detail, label).not.toMatch(/target_url|expires_at|page_token|page_size/);
  }
}
