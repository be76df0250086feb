"""The AI stages: classification, embeddings and the LLM providers with their spend ledger."""
