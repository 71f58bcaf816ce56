"""Thin kopf handlers: parse -> observe -> build -> plan -> apply -> status."""
