"""Several `voronka run` processes on one database: who polls, and stopping cleanly."""
