"""Image bytes to model input: CPU decoding (`cpu_decode`), nvJPEG on CUDA (`device_decode`),
and the memory gate for large decodes (`large_decodes`)."""
