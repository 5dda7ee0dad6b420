"""Three Momentum accounts for tests: their names, keys and the settings that name them."""

KEYS = {"east": "east-key", "west": "west-key", "north": "north-key"}
SPEC = ",".join(f"{name}=env:MOMENTUM_KEY_{name.upper()}" for name in KEYS)
ENV = {f"MOMENTUM_KEY_{name.upper()}": key for name, key in KEYS.items()}
