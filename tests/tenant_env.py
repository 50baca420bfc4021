"""The environment a multi-tenant configuration comes from in the tests: TENANTS and each tenant's secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from uniware_simulator.multi import MultiTenantSimulator

FAST_POLLING = {"SOURCES__UNIWARE__POLL_INITIAL_SECONDS": "0.01", "SOURCES__UNIWARE__POLL_MAX_SECONDS": "0.05"}


def tenants_env(sims: MultiTenantSimulator, tables: Mapping[str, Mapping[str, Any]],
                passwords: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """`TENANTS` holding each tenant's table (its simulator's base URL added) and every tenant's
    username and password (its simulator's, unless `passwords` gives another)."""
    env = {"TENANTS": json.dumps({name: {"base_url": sims[name].base_url, **table} for name, table in tables.items()})}
    for name in tables:
        env[f"TENANTS__{name.upper()}__USERNAME"] = sims[name].config.username
        env[f"TENANTS__{name.upper()}__PASSWORD"] = (passwords or {}).get(name, sims[name].config.password)
    return env
