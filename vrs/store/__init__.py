"""The vector store: one small interface, a Qdrant server adapter and a Qdrant Edge adapter."""
