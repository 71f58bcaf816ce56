"""The LLM gateway: OpenAI-compatible chat completions in front of a tenant's upstream LLM servers, with token
budgets, usage metering, conversation memory and fallbacks. Views live in `views.llm`; upstream HTTP only in
`llm.upstream`."""
