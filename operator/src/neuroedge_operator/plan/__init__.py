"""Pure planners: desired vs observed state in, a list of actions out. No side effects."""
