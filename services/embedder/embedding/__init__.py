"""Images to vectors: `ImageEmbedder` (decode, micro-batch, run, pool) and its `batcher`."""
