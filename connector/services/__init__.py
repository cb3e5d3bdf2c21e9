"""Use cases: each function is one unit of work over the database and the two APIs."""
