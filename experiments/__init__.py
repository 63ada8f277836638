"""Study scripts behind the committed results (results/*/RESULTS.md); each is runnable with `python -m`."""
