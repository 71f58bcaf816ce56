"""Thin request handlers: parse the request into a model, call a service, render the result."""
