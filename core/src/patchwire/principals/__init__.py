"""Who calls are for: principals, their budgets and their ledger (re-exports)."""

from patchwire.principals.budgets import BudgetCounters, Budgets, Charge, MemoryCounters
from patchwire.principals.ledger import PrincipalUsage
from patchwire.principals.principal import Principal, acting_for, current_principal
from patchwire.principals.settings import BudgetSpec, PrincipalsConfig, parse_principals

__all__ = [
    "BudgetCounters",
    "BudgetSpec",
    "Budgets",
    "Charge",
    "MemoryCounters",
    "Principal",
    "PrincipalUsage",
    "PrincipalsConfig",
    "acting_for",
    "current_principal",
    "parse_principals",
]
