"""Hardware model of the streaming dataflow accelerator: ops, emulator, cost models, devices.

Importable without torch or brevitas: it must run in small worker processes and on a board's CPU.
"""

__all__ = ["ops", "emulator", "cost", "devices", "schedule"]
