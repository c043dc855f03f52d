"""What runs the model: torch eager (`runner`), OpenVINO on CPU (`openvino_runner`), CUDA
graphs (`cuda_runner`), the choice between them (`choice`) and the `engine` that ties a model
to its runtime."""
