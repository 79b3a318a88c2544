// A click as the bus delivers it, and the visit recorded from it: what the
// visit recorder and the ranking counter are handed, one batch at a time.

/** One redirect served, as the `link.clicked` event carries it (events.proto LinkClicked). */
export interface Click {
  /** Snowflake id of the event (decimal string): a click is recorded once per event id. */
  eventId: string;
  /** Snowflake id of the link followed. */
  linkId: string;
  /** The code as the client wrote it (case-sensitive). */
  code: string;
  /** The owner when the click happened: never used to decide who may see it. */
  ownerId: string;
  /** When the gateway answered the redirect. */
  at: Date;
  /** The client's address as the gateway saw it (IPv4 or IPv6 text); empty if unknown. */
  ip: string;
  userAgent: string;
  referer: string;
  acceptLanguage: string;
}

export type Device = 'desktop' | 'mobile' | 'tablet' | 'tv' | 'bot' | '';

/** A click as stored: parsed, anonymised, bounded in size. */
export interface Visit {
  id: string;
  linkId: string;
  code: string;
  visitedAt: Date;
  /** Anonymised as configured (IPv4 /24, IPv6 /48 by default). */
  ip: string;
  userAgent: string;
  referer: string;
  acceptLanguage: string;
  browser: string;
  os: string;
  device: Device;
  bot: boolean;
}

/** What a visit adds to its link's rollups besides its counts. */
export interface VisitFacets {
  /** The UTC day, as days since 1970-01-01. */
  day: number;
  /** Host of the Referer, lower case; empty for none (a direct visit). */
  referrer: string;
  /** Primary language of Accept-Language's first choice, e.g. `en`; empty if none. */
  language: string;
  /**
   * Who visited, as a keyed hash (16 hex digits) of the full address and user
   * agent: only ever added to the day's visitor sketch, never stored (the raw
   * address is never stored either).
   */
  visitor: string;
}

export type RecordedVisit = Visit & VisitFacets;
