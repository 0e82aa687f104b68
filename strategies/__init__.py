"""Hypothesis strategies that generate Warp kernels as libcst ASTs, valid by construction."""

from .categories import CATEGORIES, categories_of
from .kernels import GeneratedKernel, ParamSpec, kernels

__all__ = ["CATEGORIES", "GeneratedKernel", "ParamSpec", "categories_of", "kernels"]
