import type { IRouter, RequestHandler } from 'express';
import type { ScoredItem, Recommender } from '../../serving/recommender.js';

/** What every route file receives: the router (or app) to register on and the shared pieces. */
export interface RouteContext {
  readonly app: IRouter;
  readonly recommender: Recommender;
  /** The API-key guard (a no-op when no key is configured). */
  readonly auth: RequestHandler;
  /** express.json with the 1 MB limit. */
  readonly json: RequestHandler;
  /** Adds "title" (when known) to each scored item. */
  readonly decorate: (items: readonly ScoredItem[]) => OutputItem[];
}

export interface OutputItem {
  readonly item: string;
  readonly score: number;
  readonly title?: string;
}
