"""Benchmarks of sensoryt5: every speed and memory target of the project, as ratios against named baselines."""
