"""vrs: visual product recommender."""
