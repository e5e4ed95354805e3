import type { IRouter, RequestHandler } from 'express';
import type { TitledContribution } from '../../serving/explanations.js';
import type { ExplainedItem, Recommender } from '../../serving/recommender.js';

/** What every route file receives: the router (or app) to register on and the shared pieces. */
export interface RouteContext {
  readonly app: IRouter;
  readonly recommender: Recommender;
  /** The API-key guard (a no-op when no key is configured). */
  readonly auth: RequestHandler;
  /** express.json with the 1 MB limit. */
  readonly json: RequestHandler;
  /** Adds "title" (when known) to each scored item and to each item of its "because". */
  readonly decorate: (items: readonly ExplainedItem[]) => OutputItem[];
  /** Display titles of the given items (ids without a title are absent). */
  readonly titles: (ids: readonly string[]) => ReadonlyMap<string, string>;
}

export interface OutputItem {
  readonly item: string;
  readonly score: number;
  readonly title?: string;
  /** {"item","title","contribution"} of the rated items behind the score (with ?explain=N). */
  readonly because?: TitledContribution[];
}
