-- Results of `ridgerec tune`: the best hyperparameters found by a grid search, with what they were
-- chosen on. `ridgerec train --tuned` and `npm run retrain -- --tune` read the newest row (for the
-- feedback kind they need). Append-only: every tuning run adds a row, so the history stays visible.
CREATE TABLE tuning_results (
  id           INTEGER PRIMARY KEY,
  created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  feedback     TEXT    NOT NULL CHECK (feedback IN ('explicit', 'implicit')),
  -- the validation metric the grid was ranked by ('rmse', 'ndcg@10', …) and its direction
  metric       TEXT    NOT NULL,
  higher_is_better INTEGER NOT NULL CHECK (higher_is_better IN (0, 1)),
  -- the best point's mean metric over the folds
  best_value   REAL    NOT NULL,
  -- the best point's full TrainParams (camelCase keys, as models.params stores them)
  best_params  TEXT    NOT NULL CHECK (json_valid(best_params)),
  -- the grid as given: {"lambda":[0.01,0.1],"factors":[16,32]}
  grid         TEXT    NOT NULL CHECK (json_valid(grid)),
  -- where the folds came from, e.g. "files u%d.base/u%d.test, 5 folds" or "db holdout 0.2 seed 0"
  source       TEXT    NOT NULL,
  -- every grid point's summary (the `results` array of `tune --json`)
  results      TEXT    NOT NULL CHECK (json_valid(results))
);

CREATE INDEX tuning_results_by_feedback ON tuning_results (feedback, id);
