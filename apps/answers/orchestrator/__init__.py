"""Runs the answer steps over one state object, with a trace, budgets, a deadline and spans."""
