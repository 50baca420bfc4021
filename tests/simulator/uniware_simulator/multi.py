"""Several simulated Uniware tenants at once: one simulator (API and file host, own ports, own
threads) per tenant, as real tenants are separate hosts (<tenant>.unicommerce.com).

    with MultiTenantSimulator(["acme", "globex"], fast_config()) as sims:
        sims["acme"].base_url, sims["acme"].config.password, sims["acme"].truth("Sale Orders")

Each tenant gets its own seed (different orders), user and password.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Optional

from .server import SimulatorConfig, UniwareSimulator


class MultiTenantSimulator:
    def __init__(self, tenants: Sequence[str], config: Optional[SimulatorConfig] = None) -> None:
        base = config or SimulatorConfig()
        self.simulators: dict[str, UniwareSimulator] = {}
        for number, name in enumerate(tenants):
            self.simulators[name] = UniwareSimulator(replace(
                base, seed=base.seed + number, tenant=name, username=f"api.user@{name}.example",
                password=f"{name}-Pa55-{base.seed + number:04d}!",  # a simulator credential, not a real one
                files_dir=base.files_dir / name if base.files_dir is not None else None))

    def __getitem__(self, tenant: str) -> UniwareSimulator:
        return self.simulators[tenant]

    def __iter__(self) -> Iterator[str]:
        return iter(self.simulators)

    def items(self) -> Iterator[tuple[str, UniwareSimulator]]:
        return iter(self.simulators.items())

    def start(self) -> MultiTenantSimulator:
        try:
            for sim in self.simulators.values():
                sim.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for sim in self.simulators.values():
            sim.stop()

    def __enter__(self) -> MultiTenantSimulator:
        return self.start()

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.stop()
