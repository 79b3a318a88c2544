// Every error the analytics service answers with, beside the shared runtime's
// (lib/runtime-errors.ts). Fields are named as in proto/shortener/v1/analytics.proto.
// Codes are unique across the mesh, hence `analytics_` where link has the same idea.
import { defineErrors } from '../../lib/errors.ts';

export const analyticsErrors = defineErrors({
  /** Unknown, deleted and someone else's links read the same, so codes cannot be probed. */
  analytics_link_not_found: { kind: 'not_found', message: 'no link of yours has this code' },
  analytics_invalid_code: { kind: 'invalid', field: 'code', message: 'code is malformed' },
  analytics_invalid_page_size: {
    kind: 'invalid',
    field: 'page_size',
    message: (limit: { max: number }) => `page_size must be between 1 and ${limit.max}`,
  },
  analytics_invalid_page_token: {
    kind: 'invalid',
    field: 'page_token',
    message: 'page_token is malformed',
  },
  invalid_date_range: {
    kind: 'invalid',
    message: (fault: { why: string }) => fault.why,
  },
  invalid_breakdown_limit: {
    kind: 'invalid',
    field: 'breakdown_limit',
    message: (limit: { max: number }) => `breakdown_limit must be between 1 and ${limit.max}`,
  },
  invalid_top_window: {
    kind: 'invalid',
    field: 'window',
    message: 'window must be one of 5m, 1h or 24h',
  },
  invalid_top_limit: {
    kind: 'invalid',
    field: 'limit',
    message: (limit: { max: number }) => `limit must be between 1 and ${limit.max}`,
  },
  invalid_top_scope: {
    kind: 'invalid',
    field: 'scope',
    message: 'scope must be ALL or CALLER',
  },
  ranking_unavailable: { kind: 'unavailable', message: 'the live ranking is unreachable' },
});
