"""Generated gRPC contract (vrs.v1). Regenerate with `make proto`; never edit by hand."""
