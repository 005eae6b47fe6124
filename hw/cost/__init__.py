"""Resource and energy models of the dataflow ops."""

from hw.cost.resources import CostModel, Resources

__all__ = ["CostModel", "Resources"]
