/**
 * Explanations in the serving core: which ratings explain a user's scores, and the `because`
 * lists of recommendations asked for with `explain: N`.
 *
 * An explanation must match what was recommended, so it is built from the ratings the score came
 * from: a user served from the model (known, nothing rated since training) is explained with the
 * training ratings the model file keeps; a user served by fold-in (unknown to the model, or who
 * rated or was deleted through the recommender since) with the store's current ratings, the very
 * ratings the fold-in solved from; an anonymous basket with the posted ratings. The score
 * decomposition itself is src/model/explain.ts (one Cholesky factorization per user, reused for
 * every item of a request).
 */
import { invalidInput, notFound } from '../errors.js';
import type { Contribution, Explainer, Explanation } from '../model/explain.js';
import type { ItemRating, Model, ScoredItem } from '../model/model.js';

/** The largest `top` / `explain` a request may ask for. */
export const MAX_EXPLAIN = 50;

/** Contributions listed by default (`top`). */
export const DEFAULT_EXPLAIN_TOP = 5;

/** A recommended item, with the rated items behind it when the request asked for explanations. */
export interface ExplainedItem extends ScoredItem {
  /** The largest contributions to the item's score, largest first; [] for popular items. */
  readonly because?: readonly Contribution[];
}

/** `top` or `explain`: an integer in 1..MAX_EXPLAIN, else InvalidInput naming the field. */
export function checkExplainCount(field: 'top' | 'explain', value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_EXPLAIN) {
    throw invalidInput(`${field} must be an integer in 1..${MAX_EXPLAIN}, got ${String(value)}`, { field });
  }
  return value;
}

/**
 * The explainer of a user with stored ratings. `fromModel` is true when the serving core answers
 * this user from the model (known and untouched): the model's training ratings, or the store's
 * when the model file keeps no rating values (files written before it did; the store then still
 * holds what the model was trained on). Otherwise the store's current ratings. NotFound
 * `unknown_user` when there is nothing to explain with.
 */
export function userExplainer(
  model: Model,
  userRatings: (user: string) => readonly ItemRating[],
  user: string,
  fromModel: boolean,
  modelId: number,
): Explainer {
  if (fromModel && model.userItems.values) return model.explainer(user);
  const ratings = userRatings(user);
  if (ratings.length === 0) {
    throw notFound(`user "${user}" is not in model ${modelId} and has no ratings: nothing to explain with`, 'unknown_user', { user });
  }
  return model.explainer(user, ratings);
}

/** A rated item behind a score, with its title when the store has one. */
export interface TitledContribution {
  readonly item: string;
  readonly title?: string;
  readonly contribution: number;
}

/** An explanation as the API answers it (and `ridgerec explain --json` prints it). */
export interface ExplanationView {
  readonly user: string;
  readonly item: string;
  /** The explained item's title, when the store has one. */
  readonly title?: string;
  readonly score: number;
  readonly contributions: TitledContribution[];
  readonly rest: number;
  readonly bias?: { readonly global: number; readonly user: number; readonly item: number };
  readonly model: number;
}

/** {item, title, contribution} for each contribution (title only when the map has one). */
export function titledContributions(contributions: readonly Contribution[], titles: ReadonlyMap<string, string>): TitledContribution[] {
  return contributions.map((c) => {
    const title = titles.get(c.item);
    return title === undefined ? { item: c.item, contribution: c.contribution } : { item: c.item, title, contribution: c.contribution };
  });
}

/** The answer of the explanation route: the explanation with titles, one titles look-up. */
export function explanationView(
  e: Explanation & { readonly model: number },
  titles: (ids: readonly string[]) => ReadonlyMap<string, string>,
): ExplanationView {
  const map = titles([e.item, ...e.contributions.map((c) => c.item)]);
  const title = map.get(e.item);
  return {
    user: e.user,
    item: e.item,
    ...(title === undefined ? {} : { title }),
    score: e.score,
    contributions: titledContributions(e.contributions, map),
    rest: e.rest,
    ...(e.bias === undefined ? {} : { bias: e.bias }),
    model: e.model,
  };
}

/**
 * Adds `because` (the top `n` contributions) to each item, all explained by the one explainer
 * (one factorization for the whole list). A null explainer (popular items) gives empty lists.
 */
export function withBecause(model: Model, explainer: Explainer | null, user: string, items: ScoredItem[], n: number): ExplainedItem[] {
  return items.map((it) => {
    const i = explainer === null ? undefined : model.itemIndex(it.item);
    const because = i === undefined ? [] : explainer!.explain(user, i, n).contributions;
    return { ...it, because };
  });
}
