"""`hil sweep` / `hil pareto`: hardware-aware design-space exploration above the stages (issue 10).

schema (the sweep file) -> space (Optuna distributions, a point -> a recipe) -> trial (lower + estimate
first, train only feasible points, export/lower/estimate/emulate the trained model) -> executors (local
process pool or a Dask cluster) -> study (Optuna ask-and-tell in batches, SQLite storage in RUN) -> pareto
(non-dominated trials, plots, rebuild commands). No stage imports this package.
"""
