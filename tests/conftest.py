from hypothesis import settings

# Shared machines are noisy: no per-example deadlines (speed lives in benchmarks/).
settings.register_profile("course", deadline=None, max_examples=50)
settings.load_profile("course")
