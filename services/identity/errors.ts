// Every error the identity service answers with, beside the shared runtime's
// (lib/runtime-errors.ts).
import { defineErrors } from '../../lib/errors.ts';

export const identityErrors = defineErrors({
  /** Every refusal of a token reads the same, so a caller learns nothing about why. */
  invalid_token: {
    kind: 'unauthenticated',
    message: 'the token is invalid, revoked or expired',
  },
});
