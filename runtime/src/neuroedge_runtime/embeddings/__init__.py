"""Text embeddings: the built-in offline model, external OpenAI-compatible providers, and the chunker that
splits documents before they are embedded."""
