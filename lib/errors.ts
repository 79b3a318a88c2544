// Errors are values with a kind. Each edge maps the kind once: the gRPC
// handlers to a status code, the gateway to an HTTP status and problem type.
//
// Every part of the mesh writes its errors down in one catalogue (see
// defineErrors): a stable code, a kind and a message per error, the way
// fastify's lib/errors.js keeps one registry. Code raises an entry of its
// catalogue; no code is spelled out where an error is thrown.

export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'expired'
  | 'exhausted'
  | 'unavailable'
  | 'deadline'
  | 'internal';

export interface DomainErrorOptions {
  /** Stable machine-readable name, e.g. `invalid_url`; defaults to the kind. */
  code?: string;
  /** For `exhausted`: how long until a retry may succeed. */
  retryAfterMs?: number;
  /** For `invalid`: the offending field. */
  field?: string;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  readonly field: string | undefined;

  /** For errors that arrive from elsewhere (a gRPC status); our own come from a catalogue. */
  constructor(kind: ErrorKind, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.kind = kind;
    this.code = options.code ?? kind;
    this.retryAfterMs = options.retryAfterMs;
    this.field = options.field;
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}

/** How one error is written down in a catalogue; its code is the entry's name. */
export interface ErrorEntry {
  kind: ErrorKind;
  /** What the caller is told: fixed, or built from what each occurrence passes. */
  message: string | ((args: never) => string);
  /** For `invalid`: the request field at fault, named as the protos name it. */
  field?: string;
}

/** What travels with one occurrence of an error besides its entry. */
export interface Occurrence {
  cause?: unknown;
  /** How long until a retry may succeed (for `exhausted`, required in practice). */
  retryAfterMs?: number;
  /** The field at fault, when only the occurrence knows it (schema validation). */
  field?: string;
}

/** An entry's code, kind and field, readable without raising it. */
export interface ErrorDescription {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly field: string | undefined;
}

type Raise<E extends ErrorEntry> = E['message'] extends (args: infer A) => string
  ? (args: A, occurrence?: Occurrence) => DomainError
  : (occurrence?: Occurrence) => DomainError;

/** A catalogue entry: call it to get a new error of its kind, code and message. */
export type ErrorDefinition<E extends ErrorEntry> = Raise<E> & ErrorDescription;

export type Catalogue<T extends Record<string, ErrorEntry>> = {
  readonly [K in keyof T]: ErrorDefinition<T[K]>;
};

function raise(
  code: string,
  entry: ErrorEntry,
  message: string,
  occurrence: Occurrence | undefined,
): DomainError {
  const field = occurrence?.field ?? entry.field;
  return new DomainError(entry.kind, message, {
    code,
    ...(field === undefined ? {} : { field }),
    ...(occurrence?.retryAfterMs === undefined ? {} : { retryAfterMs: occurrence.retryAfterMs }),
    ...(occurrence?.cause === undefined ? {} : { cause: occurrence.cause }),
  });
}

/**
 * A catalogue: each entry's name is its stable code (snake_case, unique across
 * the mesh: test/errors/vocabulary.test.ts checks), so the code is written once.
 */
export function defineErrors<const T extends Record<string, ErrorEntry>>(entries: T): Catalogue<T> {
  const catalogue: Record<string, ErrorDescription> = {};
  for (const [code, entry] of Object.entries(entries)) {
    const { message } = entry;
    const definition =
      typeof message === 'string'
        ? (occurrence?: Occurrence) => raise(code, entry, message, occurrence)
        : (args: never, occurrence?: Occurrence) => raise(code, entry, message(args), occurrence);
    catalogue[code] = Object.assign(definition, {
      code,
      kind: entry.kind,
      field: entry.field,
    });
  }
  return catalogue as Catalogue<T>;
}

/** Every entry of a catalogue, for checks and documentation. */
export function describeErrors(
  catalogue: Readonly<Record<string, ErrorDescription>>,
): ErrorDescription[] {
  return Object.values(catalogue).map(({ code, kind, field }) => ({ code, kind, field }));
}
