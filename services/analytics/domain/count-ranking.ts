// The ranking counter: what the second `link.clicked` consumer calls with
// each batch. It counts every click that is not a bot's into the live
// ranking, once per event id (see ranking/ranking.ts for the dedup horizon),
// and returns once Redis has it.
import type { Ranking } from '../ranking/ranking.ts';
import type { Click } from './click.ts';
import { isBotAgent } from './visits.ts';

export class RankingCounter {
  readonly #ranking: Ranking;

  constructor(ranking: Ranking) {
    this.#ranking = ranking;
  }

  /** Counts the batch's human clicks; returns how many were counted now (not before). */
  record(clicks: readonly Click[]): Promise<number> {
    return this.#ranking.record(
      clicks
        .filter((click) => !isBotAgent(click.userAgent))
        .map((click) => ({
          eventId: click.eventId,
          linkId: click.linkId,
          code: click.code,
          at: click.at.getTime(),
        })),
    );
  }
}
