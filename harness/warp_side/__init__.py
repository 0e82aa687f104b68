"""The Warp side: the system under test, and everything that builds with it or reads what it generates.

``warp_adapter`` is the one module that imports ``warp`` (and the only one touching ``warp._src``): build, launch,
generate the C++/CUDA text, compile it with NVRTC. ``extract`` cuts each kernel's forward and backward functions out
of that text (pure text). ``overloads`` probes which rows of the table a Warp release accepts; ``differential``
builds a batch again with another configuration (no backward, no unrolling, debug, -O2, CUDA) and compares;
``against`` and ``companion`` do the same with another Warp release in its own process. Nothing here decides what an
output should be: that is the oracle's (:mod:`harness.oracle`), and the pipeline (:mod:`harness.pipeline`) joins both.
"""
