"""The test suite: unit (pure domain and use cases on fakes), integration (handlers on moto), infra (the synthesized template), bench (make bench)."""
