"""The oracle: what a kernel's outputs and gradients should be, computed without Warp.

``reference`` transpiles a kernel's source to Python over the operator table's numpy semantics; ``inputs`` and
``input_choice`` draw the inputs (edge values, ties, the rows' corners); ``compare`` decides whether Warp's outputs
match, within what each output's sensitivity allows; ``gradient`` checks Warp's backward pass against derivatives of
the reference, and ``gradient_limits`` names the kernels whose gradient Warp cannot give (and why). Only the
gradient check touches Warp, to launch the backward pass, and only through ``harness.warp_side.warp_adapter``; the
pipeline (``harness.pipeline``) joins the oracle with the Warp side.
"""
