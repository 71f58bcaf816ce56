"""The LLM agent: an `agent` Engine with `spec.llm` runs a tool-calling loop whose tools are the tenant's own
engines and indexes. It composes the LLM client side (`llm`), the engines (`engines`) and the vector service
(`vectors`), so it lives beside them rather than inside any one of them."""
