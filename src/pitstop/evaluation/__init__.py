"""Evaluation jobs and what comes of them: laps, results, tuning, the leaderboard, export.

- ``laps``: the simulated trainer's lap model (seeded; faster actions, shorter laps, more
  off-tracks past the track's corner limits), so tuning has something real to optimise;
- ``results``: simapp's evaluation metrics read into laps and a summary (pure);
- ``staging``: the checkpoint to evaluate, resolved and copied into the attempt's prefix;
- ``board``: the leaderboard index and the model registry in S3;
- ``tune``: the speed-scale search (its decisions pure);
- ``export``: the car's tarball and DeepRacer-on-AWS's import layout.
"""
