"""`python -m sensoryt5` runs the command line."""

from sensoryt5.cli import main

main()
