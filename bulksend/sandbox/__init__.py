"""The embedded sandbox provider (no account, no network)."""

from bulksend.sandbox.app import RunningSandbox, build_app, running, serve
from bulksend.sandbox.config import Faults, SandboxConfig, SandboxPlan, sandbox_config_from_table

__all__ = ["Faults", "RunningSandbox", "SandboxConfig", "SandboxPlan", "build_app", "running", "serve",
           "sandbox_config_from_table"]
