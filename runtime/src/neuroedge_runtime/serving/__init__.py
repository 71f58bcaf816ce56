"""Protocol adapters (OpenAI-compatible endpoints): they translate requests for the models and engines, which
never see HTTP."""
