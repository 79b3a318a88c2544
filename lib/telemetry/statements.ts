// SQL statements as spans keep them (the mysql2 instrumentation's
// maskStatementHook): never the values, which hold addresses, emails and
// token hashes.

/**
 * A statement as a span keeps it: placeholders for its values, the rows of a
 * multi-row insert as the first and an ellipsis, and not all of a long one.
 * Only its head is read: the recorder's statements run to tens of kilobytes
 * (MikroORM sends values inline), and this runs for every traced one.
 */
export function maskStatement(query: string): string {
  const cut = query.length > SCANNED;
  let masked = (cut ? query.slice(0, SCANNED) : query).replace(LITERALS, '?');
  // A literal the cut left open would show its beginning: it goes too.
  if (cut) {
    const open = masked.search(QUOTE);
    if (open >= 0) masked = masked.slice(0, open);
  }
  masked = masked.replace(ROWS, '$1, …');
  if (cut) masked = masked.replace(OPEN_ROW, '');
  if (!cut && masked.length <= MAX_STATEMENT) return masked;
  const head = masked.slice(0, MAX_STATEMENT);
  return head.endsWith('…') ? head : `${head}…`;
}
const LITERALS = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\b\d+\b/g;
const QUOTE = /['"]/;
/** A masked row followed by more of them. */
const ROWS = /(\((?:[?\w]+, )*[?\w]+\))(?:, \((?:[?\w]+, )*[?\w]+\))+/g;
/** What the cut left of a row at the end. */
const OPEN_ROW = /,? \([^)]*$/;
const MAX_STATEMENT = 1_000;
/** Enough of a statement to show MAX_STATEMENT of it once its values are masked. */
const SCANNED = 8 * MAX_STATEMENT;
